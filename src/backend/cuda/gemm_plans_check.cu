// GemmPlans::same_bits: whether a batched cuBLASLt algorithm sums each matrix of a packed product in the order
// one replica's algorithm sums it alone, tried on synthetic operands. The order a kernel sums in depends on its
// code, not on the values, so values that make every rounding visible (synthetic_operands.cuh) tell orders apart.
#include <cstring>
#include <vector>

#include "backend/cuda/check.h"
#include "backend/cuda/gemm_plans.h"
#include "backend/cuda/synthetic_operands.cuh"

namespace mechlab::cuda {

namespace {
// A device buffer of synthetic values for the check, freed when it ends.
struct Scratch {
  void* data = nullptr;
  Scratch(int64_t elements, DType dtype, uint32_t salt, cudaStream_t stream) {
    check(cudaMalloc(&data, static_cast<size_t>(elements) * (dtype == DType::f64 ? 8 : 4)), "cudaMalloc (product check)");
    fill_synthetic(data, elements, dtype, salt, stream);
  }
  ~Scratch() { cudaFree(data); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};
}  // namespace

bool GemmPlans::same_bits(const ShapeKey& key, const GemmShape& g, const cublasLtMatmulAlgo_t& batched,
                          const cublasLtMatmulAlgo_t& one_replica) {
  const DType dtype = static_cast<DType>(std::get<0>(key));
  const size_t bytes = dtype == DType::f64 ? 8 : 4;
  GemmShape s = g;
  s.batch = std::min<int64_t>(g.batch, 2 * std::get<10>(key));  // two replicas: the batch stride is used
  auto extent = [&](int64_t stride, int64_t matrix) { return batch_extent(s.batch, stride, matrix); };
  const int64_t c_elements = extent(g.c_batch_stride, g.m * g.n);
  const Scratch a(extent(g.a_batch_stride, g.m * g.k), dtype, 1, stream_);
  const Scratch b(extent(g.b_batch_stride, g.k * g.n), dtype, 2, stream_);
  const Scratch c_start(c_elements, dtype, 3, stream_), c_x(c_elements, dtype, 0, stream_), c_y(c_elements, dtype, 0, stream_);
  const Plan& plan = plan_for(key, s.batch, s);
  std::vector<char> host_x(c_elements * bytes), host_y(c_elements * bytes);
  bool same = true;
  // Both epilogues: a plain product, and a scaled one added to what c holds.
  for (const auto& [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{0.37, 1.0}}) {
    for (const Scratch* c : {&c_x, &c_y})
      check(cudaMemcpyAsync(c->data, c_start.data, c_elements * bytes, cudaMemcpyDeviceToDevice, stream_), "copy");
    if (launch(plan, batched, dtype, alpha, a.data, b.data, beta, c_x.data) != CUBLAS_STATUS_SUCCESS ||
        launch_by_replica(key, s, one_replica, dtype, alpha, a.data, b.data, beta, c_y.data) != CUBLAS_STATUS_SUCCESS) {
      same = false;
      break;
    }
    check(cudaMemcpyAsync(host_x.data(), c_x.data, host_x.size(), cudaMemcpyDeviceToHost, stream_), "copy to host");
    check(cudaMemcpyAsync(host_y.data(), c_y.data, host_y.size(), cudaMemcpyDeviceToHost, stream_), "copy to host");
    check(cudaStreamSynchronize(stream_), "product check");
    same = same && std::memcmp(host_x.data(), host_y.data(), host_x.size()) == 0;
  }
  return same;
}

}  // namespace mechlab::cuda
