// One eager optimisation step (forward -> loss -> backward -> update) for tests and tools that train by
// hand; the trainer keeps a StepRunner, which can also replay steps from a CUDA graph.
#pragma once
#include <vector>

#include "nn/transformer.h"
#include "optim/optimizer.h"

namespace mechlab {

// Cross-entropy on token targets (R, B, T) with an optional loss mask; returns each replica's loss.
std::vector<double> train_step(const Transformer& model, Optimizer& optimizer, const Tensor& inputs,
                               const Tensor& targets, const Tensor& mask = Tensor());

// Uniform random token ids (R, B, T) in [0, vocab) keyed by (replica key, data stream, step):
// replica r's batch is the same whether it trains alone or packed with others.
Tensor random_tokens(const std::vector<ReplicaKey>& replicas, int64_t batch, int64_t length, int32_t vocab,
                     uint32_t step);

}  // namespace mechlab
