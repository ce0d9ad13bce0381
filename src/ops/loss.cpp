// Losses. Each returns one value per replica (R): replicas are independent models, and the sum of their
// losses gives every replica exactly its own gradient.
#include <algorithm>
#include <numeric>
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
std::vector<int> all_but_first(int ndim) {
  std::vector<int> axes(ndim - 1);
  std::iota(axes.begin(), axes.end(), 1);
  return axes;
}

// Per replica, the mean of `values` over the positions `mask` (values' shape) selects. A replica whose mask
// selects nothing gets NaN: there is no loss to average.
Tensor masked_mean(const Tensor& values, const Tensor& mask) {
  const std::vector<int> axes = all_but_first(values.ndim());
  return div(sum(mul(values, mask), axes), sum(mask, axes));
}
}  // namespace

Tensor token_cross_entropy(const Tensor& logits, const Tensor& targets) {
  Shape rows_shape(logits.shape().begin(), logits.shape().end() - 1);
  if (targets.dtype() != DType::i32 || targets.shape() != rows_shape)
    throw std::invalid_argument("cross_entropy: targets must be i32 of shape " + to_string(rows_shape) + ", got " +
                                to_string(targets.shape()));
  if (targets.device() != logits.device()) throw std::invalid_argument("cross_entropy: targets and logits are on different devices");
  const int64_t rows = numel(rows_shape), V = logits.dim(-1);
  Tensor loss = Tensor::empty(rows_shape, logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({rows}, logits.dtype(), logits.device());
  backend_for(logits.device()).cross_entropy(logits.view({rows, V}), targets.view({rows}), loss, lse);
  return record(loss, "token_cross_entropy", {logits}, [logits, targets, lse](const Tensor& dloss) -> std::vector<Tensor> {
    const int64_t V = logits.dim(-1), rows = logits.numel() / V;
    Tensor dlogits = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
    Tensor flat = dlogits.view({rows, V});
    backend_for(logits.device()).cross_entropy_backward(logits.view({rows, V}), targets.view({rows}), lse,
                                                        dloss.view({rows}), flat);
    return {dlogits};
  });
}

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& mask) {
  Tensor per_token = token_cross_entropy(logits, targets);
  std::vector<int> axes = all_but_first(per_token.ndim());
  if (!mask.defined()) return mean(per_token, axes);
  if (mask.shape() != per_token.shape())
    throw std::invalid_argument("cross_entropy: mask must have shape " + to_string(per_token.shape()) + ", got " +
                                to_string(mask.shape()));
  return masked_mean(per_token, mask);
}

Tensor mse(const Tensor& prediction, const Tensor& target) {
  if (prediction.shape() != target.shape())
    throw std::invalid_argument("mse: prediction " + to_string(prediction.shape()) + " vs target " +
                                to_string(target.shape()));
  return mean(square(sub(prediction, target)), all_but_first(prediction.ndim()));
}

Tensor masked_mse(const Tensor& prediction, const Tensor& target, const Tensor& mask) {
  if (prediction.shape() != target.shape() || prediction.ndim() != 4 || mask.ndim() != 3 ||
      !std::equal(mask.shape().begin(), mask.shape().end(), prediction.shape().begin()))
    throw std::invalid_argument("masked_mse: prediction and target (R, B, T, K) with mask (R, B, T), got " +
                                to_string(prediction.shape()) + ", " + to_string(target.shape()) + ", " +
                                to_string(mask.shape()));
  return masked_mean(mean(square(sub(prediction, target)), {3}), mask);  // squared errors per position (R, B, T)
}

}  // namespace mechlab
