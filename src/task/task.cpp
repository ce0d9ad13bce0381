#include "task/task.h"

#include <stdexcept>

#include "config/config_error.h"
#include "nn/memory_model.h"

namespace mechlab {

void require_model_value(nlohmann::json& model, const char* key, int64_t value, const std::string& why) {
  if (model[key].get<int64_t>() == 0) model[key] = value;
  if (model[key].get<int64_t>() != value)
    throw ConfigError(std::string("model.") + key, why + "; leave it at 0 or set " + std::to_string(value));
}

double Task::evaluation_bytes(const TransformerConfig& model, double sequences) const {
  return activation_bytes(model, sequences, static_cast<double>(sequence_length()), false);
}

ContrastBatch Task::contrast_batch(const std::vector<ReplicaKey>& /*replicas*/, int64_t /*batch_size*/,
                                   const std::string& /*kind*/) const {
  throw std::invalid_argument("this task has no contrast batches (clean/corrupted pairs) to patch between");
}

}  // namespace mechlab
