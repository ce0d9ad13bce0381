#include "task/task.h"

#include "autograd/grad_mode.h"
#include "config/config_error.h"

namespace mechlab {

void require_model_value(nlohmann::json& model, const char* key, int64_t value, const std::string& why) {
  if (model[key].get<int64_t>() == 0) model[key] = value;
  if (model[key].get<int64_t>() != value)
    throw ConfigError(std::string("model.") + key, why + "; leave it at 0 or set " + std::to_string(value));
}

std::vector<Metrics> Task::evaluate(const Transformer& model, const Batch& batch) const {
  NoGradGuard no_grad;
  EvaluationTensors host;
  for (const auto& [name, tensor] : evaluation_tensors(model, batch)) host[name] = tensor.to(Device::cpu);
  return summarize(host, batch.to(Device::cpu));
}

}  // namespace mechlab
