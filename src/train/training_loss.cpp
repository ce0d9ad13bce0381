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

Tensor example_losses(const Tensor& outputs, const Batch& batch, const TransformerConfig& config) {
  const bool tokens = config.output == OutputKind::logits;
  if (!tokens && !batch.loss_mask.defined())
    throw std::logic_error("a readout model's task must give a loss mask (the positions with targets)");
  const Tensor per_position = tokens ? token_cross_entropy(outputs, batch.targets)                // (R, B, T)
                                     : mean(square(sub(outputs, batch.targets)), {3});
  if (!batch.loss_mask.defined()) return mean(per_position, {2});
  const Tensor mask = batch.loss_mask.to(outputs.dtype());
  return div(sum(mul(per_position, mask), {2}), sum(mask, {2}));
}

}  // namespace mechlab
