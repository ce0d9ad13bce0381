#include "train/step_runner.h"

#include <stdexcept>

#include "backend/backend.h"
#include "backend/recorded_work.h"
#include "ops/ops.h"
#include "train/training_loss.h"

namespace mechlab {

namespace {
// Eager steps before capture: they fill the allocator's cache and let cuBLAS pick its kernels.
constexpr int64_t kEagerStepsBeforeCapture = 2;

// Copies `source` into `target`, allocating target on `device` the first time or when the shape changes.
void stage(Tensor& target, const Tensor& source, Device device) {
  if (!source.defined()) return;
  if (!target.defined() || target.shape() != source.shape() || target.dtype() != source.dtype())
    target = Tensor::empty(source.shape(), source.dtype(), device);
  if (source.device() == Device::cpu)
    backend_for(device).copy_from_host(target.raw(), source.raw(), source.bytes());
  else
    backend_for(device).strided_copy(source, StridedView::contiguous(source.shape()), target,
                                     StridedView::contiguous(source.shape()), false);
}

}  // namespace

struct StepRunner::Graph {
  std::unique_ptr<RecordedWork> work;
  Shape input_shape;
};

StepRunner::StepRunner(const Transformer& model, Optimizer& optimizer, bool use_graph)
    : model_(model), optimizer_(optimizer), use_graph_(use_graph && model.device() == Device::cuda) {}

StepRunner::~StepRunner() = default;

Tensor StepRunner::body() {
  optimizer_.zero_grad();
  Tensor losses = training_loss(model_, static_batch_);
  sum(losses, {0}).backward();
  optimizer_.apply();
  return losses;
}

Tensor StepRunner::step(const Batch& batch) {
  const Device device = model_.device();
  if (device == Device::cpu) {
    static_batch_ = batch;  // no copies on the CPU
  } else {
    stage(static_batch_.inputs, batch.inputs, device);
    stage(static_batch_.targets, batch.targets, device);
    stage(static_batch_.loss_mask, batch.loss_mask, device);
  }
  optimizer_.prepare_step();
  if (graph_ && graph_->input_shape != batch.inputs.shape()) graph_.reset();  // shapes changed: record again
  if (use_graph_ && !graph_ && eager_steps_ >= kEagerStepsBeforeCapture) {
    auto graph = std::make_unique<Graph>();
    graph->work = record_work(device, [&] { losses_ = body(); });
    graph->input_shape = batch.inputs.shape();
    graph_ = std::move(graph);
  }
  if (graph_) {
    graph_->work->replay();
  } else {
    losses_ = body();
    ++eager_steps_;
  }
  return losses_;
}

}  // namespace mechlab
