// Causal attention patterns from scores: softmax, ReLU normalised by visible keys, or linear.
#include <stdexcept>

#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

Tensor attention_pattern(const Tensor& scores, AttentionKind kind, bool exclude_self) {
  if (scores.ndim() < 2 || scores.dim(-2) > scores.dim(-1))
    throw std::invalid_argument("attention_pattern: scores must be (..., T', T) with T' <= T, got " + to_string(scores.shape()));
  Tensor pattern = Tensor::empty(scores.shape(), scores.dtype(), scores.device());
  backend_for(scores.device()).attention_pattern(kind, exclude_self, scores, pattern);
  return record(pattern, "attention_pattern", {scores},
                [scores, pattern = pattern.detach(), kind, exclude_self](const Tensor& dpattern) -> std::vector<Tensor> {
                  Tensor dscores = Tensor::empty(scores.shape(), scores.dtype(), scores.device());
                  backend_for(scores.device())
                      .attention_pattern_backward(kind, exclude_self, scores, pattern, dpattern, dscores);
                  return {dscores};
                });
}

}  // namespace mechlab
