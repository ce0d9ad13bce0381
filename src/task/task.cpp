#include "task/task.h"

#include "autograd/grad_mode.h"

namespace mechlab {

std::vector<Metrics> Task::evaluate(const Transformer& model, const Batch& batch) const {
  NoGradGuard no_grad;
  EvaluationTensors host;
  for (const auto& [name, tensor] : evaluation_tensors(model, batch)) host[name] = tensor.to(Device::cpu);
  return summarize(host, batch.to(Device::cpu));
}

}  // namespace mechlab
