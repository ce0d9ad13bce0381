// The loss a model trains on, the one owner of it: the trainer's step, `mechlab forward --grads` and the
// analyses call this, so the gradients they report are the training gradients.
#pragma once
#include "nn/transformer.h"
#include "task/task.h"

namespace mechlab {

// Per replica (R): cross-entropy for a model with logits (over the positions of batch.loss_mask, all of them
// when it is undefined), masked mean squared error for a readout model (its task must give a loss mask: the
// positions that carry a target).
Tensor training_loss(const Tensor& outputs, const Batch& batch, const TransformerConfig& config);
Tensor training_loss(const Transformer& model, const Batch& batch);
// The same loss per example (R, B): each example's mean over its own positions of the loss mask.
Tensor example_losses(const Tensor& outputs, const Batch& batch, const TransformerConfig& config);

}  // namespace mechlab
