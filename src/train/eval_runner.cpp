#include "train/eval_runner.h"

#include <optional>

#include "autograd/grad_mode.h"

namespace mechlab {

EvalRunner::EvalRunner(const Transformer& model, const Task& task, Batch batch, bool use_graph)
    : model_(model),
      task_(task),
      batch_(std::move(batch)),
      host_batch_(batch_.to(Device::cpu)),
      use_graph_(use_graph && model.device() == Device::cuda) {}

std::vector<Metrics> EvalRunner::evaluate(PhaseTimes* times) {
  NoGradGuard no_grad;
  PhaseTimes untimed;
  PhaseTimes& timing = times ? *times : untimed;
  std::optional<PhaseTimes::Scope> timed(std::in_place, timing, "evaluation forward");
  // One eager run first fills the caches (cuBLAS, allocator) that a recording must not create.
  if (use_graph_ && !graph_ && eager_runs_ > 0)
    graph_ = record_work(model_.device(), [&] { tensors_ = task_.evaluation_tensors(model_, batch_); });
  if (graph_) {
    graph_->replay();
  } else {
    tensors_ = task_.evaluation_tensors(model_, batch_);
    ++eager_runs_;
  }
  Task::EvaluationTensors host;
  for (const auto& [name, tensor] : tensors_) host[name] = tensor.to(Device::cpu);  // waits for the device
  timed.emplace(timing, "evaluation summaries");
  return task_.summarize(host, host_batch_);
}

}  // namespace mechlab
