#include "train/training_loss.h"

#include <stdexcept>

#include "ops/ops.h"

namespace mechlab {

Tensor training_loss(const Tensor& outputs, const Batch& batch, const TransformerConfig& config) {
  if (config.output == OutputKind::logits) return cross_entropy(outputs, batch.targets, batch.loss_mask);
  if (!batch.loss_mask.defined())
    throw std::logic_error("a readout model's task must give a loss mask (the positions with targets)");
  return masked_mse(outputs, batch.targets, batch.loss_mask);
}

Tensor training_loss(const Transformer& model, const Batch& batch) {
  return training_loss(model.forward(batch.inputs), batch, model.config());
}

}  // namespace mechlab
