#include "tasks/bigram_backcopy/interventions.h"

#include <fmt/format.h>

#include "ops/ops.h"

namespace mechlab {

namespace {
// Ones of x's shape reduced to extent 1 everywhere but `axis`, with a zero at `index` of that axis; built
// from fills and a concat only, so it can be recorded in a CUDA graph.
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

Intervention masking(std::string label, std::string hook, int axis, int64_t index) {
  return {std::move(label), [hook = std::move(hook), axis, index](ActivationHooks& hooks) {
            hooks.replace(hook, [axis, index](const Tensor& x) { return mul(x, zero_at(x, axis, index)); });
          }};
}
}  // namespace

std::vector<Intervention> bigram_backcopy_interventions(const TransformerConfig& c) {
  std::vector<Intervention> all;
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string block = fmt::format("blocks.{}", l);
    if (c.layer(l).attention) {
      for (int h = 0; h < c.n_heads; ++h)  // hook_z is (R, B, T, H, E): head h along axis 3
        all.push_back(masking(fmt::format("zero_head.L{}H{}", l, h), block + ".attn.hook_z", 3, h));
      // A copy split over several heads survives zeroing any one of them; zeroing all of them does not.
      if (c.n_heads > 1)
        all.push_back({fmt::format("zero_heads.L{}", l), [hook = block + ".attn.hook_z"](ActivationHooks& hooks) {
                         hooks.replace(hook, [](const Tensor& x) { return scale(x, 0.0); });
                       }});
      all.push_back(masking(fmt::format("zero_bos_value.L{}", l), block + ".attn.hook_v", 2, 0));  // (R, B, T, H, E)
    }
    if (c.layer(l).mlp && c.d_mlp > 0)
      all.push_back({fmt::format("zero_mlp.L{}", l), [hook = block + ".hook_mlp_out"](ActivationHooks& hooks) {
                       hooks.replace(hook, [](const Tensor& x) { return scale(x, 0.0); });
                     }});
    all.push_back(masking(fmt::format("zero_bos_resid.L{}", l), block + ".hook_resid_post", 2, 0));  // (R, B, T, D)
  }
  return all;
}

}  // namespace mechlab
