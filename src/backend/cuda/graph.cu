// CUDA graphs: capture everything launched on the backend's stream, with allocations from a private pool.
#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/recorded_work.h"

namespace mechlab {

using namespace cuda;

namespace {
class CudaGraph final : public RecordedWork {
 public:
  CudaGraph(CudaBackend& backend, const std::function<void()>& body) : backend_(backend) {
    static int next_pool = 1;
    const int pool = next_pool++;
    check(cudaStreamBeginCapture(backend.stream(), cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
    backend.begin_pool(pool);
    try {
      body();
    } catch (...) {
      backend.end_pool();
      cudaGraph_t broken = nullptr;
      cudaStreamEndCapture(backend.stream(), &broken);
      if (broken) cudaGraphDestroy(broken);
      throw;
    }
    backend.end_pool();
    check(cudaStreamEndCapture(backend.stream(), &graph_), "cudaStreamEndCapture");
    check(cudaGraphInstantiate(&exec_, graph_, 0), "cudaGraphInstantiate");
    backend.trim();
  }
  ~CudaGraph() override {
    if (exec_) cudaGraphExecDestroy(exec_);
    if (graph_) cudaGraphDestroy(graph_);
  }
  void replay() override { check(cudaGraphLaunch(exec_, backend_.stream()), "cudaGraphLaunch"); }

 private:
  CudaBackend& backend_;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
};
}  // namespace

std::unique_ptr<RecordedWork> record_work(Device device, const std::function<void()>& body) {
  CudaBackend* backend = cuda_backend();
  if (device != Device::cuda || !backend) return nullptr;
  return std::make_unique<CudaGraph>(*backend, body);
}

}  // namespace mechlab
