#include "analysis/interventions.h"

#include <fmt/format.h>

#include "ops/ops.h"

namespace mechlab {

namespace {
// Ones of x's shape reduced to extent 1 everywhere but `axis`, with a zero at `index` of that axis.
Tensor zero_at(const Tensor& x, int axis, int64_t index) {
  const int64_t n = x.dim(axis);
  auto piece = [&](int64_t length, double value) {
    Shape shape(x.ndim(), 1);
    shape[axis] = length;
    return Tensor::full(shape, value, x.dtype(), x.device());
  };
  std::vector<Tensor> pieces;
  if (index > 0) pieces.push_back(piece(index, 1.0));
  pieces.push_back(piece(1, 0.0));
  if (index + 1 < n) pieces.push_back(piece(n - index - 1, 1.0));
  return pieces.size() == 1 ? pieces[0] : concat(pieces, axis);
}

Intervention zero_whole(std::string label, std::string hook) {
  return {std::move(label), [hook = std::move(hook)](ActivationHooks& hooks) {
            hooks.replace(hook, [](const Tensor& x) { return scale(x, 0.0); });
          }};
}
}  // namespace

Intervention zero_at_index(std::string label, std::string hook, int axis, int64_t index) {
  return {std::move(label), [hook = std::move(hook), axis, index](ActivationHooks& hooks) {
            hooks.replace(hook, [axis, index](const Tensor& x) { return mul(x, zero_at(x, axis, index)); });
          }};
}

Intervention zero_head(int layer, int head) {
  return zero_at_index(fmt::format("zero_head.L{}H{}", layer, head), fmt::format("blocks.{}.attn.hook_z", layer), 3, head);
}

Intervention zero_heads(int layer) {
  return zero_whole(fmt::format("zero_heads.L{}", layer), fmt::format("blocks.{}.attn.hook_z", layer));
}

Intervention zero_mlp(int layer) {
  return zero_whole(fmt::format("zero_mlp.L{}", layer), fmt::format("blocks.{}.hook_mlp_out", layer));
}

}  // namespace mechlab
