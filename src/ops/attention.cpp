// Causal attention patterns from scores (softmax, ReLU normalised by visible keys, or linear), and attention
// itself from queries, keys and values: fused where the backend has it, composed of matmul and the pattern
// elsewhere.
#include <stdexcept>

#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

Tensor attention_pattern(const Tensor& scores, AttentionKind kind, bool exclude_self) {
  if (scores.ndim() < 2 || scores.dim(-2) > scores.dim(-1))
    throw std::invalid_argument("attention_pattern: scores must be (..., T', T) with T' <= T, got " + to_string(scores.shape()));
  Tensor pattern = Tensor::empty(scores.shape(), scores.dtype(), scores.device());
  backend_for(scores.device()).attention_pattern(kind, exclude_self, scores, pattern);
  // Only the ReLU kinds' backward reads the scores (where they are positive): softmax and linear need the
  // pattern alone, so their scores (T x T per head) are not kept for the backward.
  const Tensor kept = is_relu_attention(kind) ? scores : Tensor();
  return record(pattern, "attention_pattern", {scores},
                [kept, pattern = pattern.detach(), kind, exclude_self](const Tensor& dpattern) -> std::vector<Tensor> {
                  Tensor dscores = Tensor::empty(pattern.shape(), pattern.dtype(), pattern.device());
                  backend_for(pattern.device())
                      .attention_pattern_backward(kind, exclude_self, kept.defined() ? kept : pattern, pattern,
                                                  dpattern, dscores);
                  return {dscores};
                });
}

Tensor heads_first(const Tensor& x) { return transpose(x, x.ndim() - 3, x.ndim() - 2); }

namespace {
Tensor composed_attention(const Tensor& q, const Tensor& k, const Tensor& v, AttentionKind kind, bool exclude_self,
                          double scale) {
  const Tensor pattern = attention_pattern(matmul(heads_first(q), heads_first(k), false, true, scale), kind, exclude_self);
  return heads_first(matmul(pattern, heads_first(v)));
}
}  // namespace

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, AttentionKind kind, bool exclude_self, double scale) {
  const int n = q.ndim();
  bool fits = n >= 3 && k.shape() == v.shape() && k.ndim() == n && q.dim(-1) == k.dim(-1) && q.dim(-2) == k.dim(-2) &&
              q.dim(-3) <= k.dim(-3);
  for (int axis = 0; fits && axis < n - 3; ++axis) fits = q.dim(axis) == k.dim(axis);
  if (!fits)
    throw std::invalid_argument("attention: q (..., T', H, E) and k, v (..., T, H, E) with T' <= T, got " +
                                to_string(q.shape()) + ", " + to_string(k.shape()) + " and " + to_string(v.shape()));
  Backend& backend = backend_for(q.device());
  if (!backend.supports_fused_attention(q.dtype(), q.dim(-1))) return composed_attention(q, k, v, kind, exclude_self, scale);
  const int64_t heads = q.dim(-2), queries = q.dim(-3);
  Tensor z = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor lse = Tensor::empty({q.numel() / (queries * heads * q.dim(-1)), heads, queries}, q.dtype(), q.device());
  backend.fused_attention(kind, exclude_self, scale, q, k, v, z, lse);
  return record(z, "attention", {q, k, v},
                [q, k, v, z = z.detach(), lse, kind, exclude_self, scale](const Tensor& dz) -> std::vector<Tensor> {
                  Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device());
                  Tensor dk = Tensor::empty(k.shape(), k.dtype(), k.device());
                  Tensor dv = Tensor::empty(v.shape(), v.dtype(), v.device());
                  backend_for(q.device()).fused_attention_backward(kind, exclude_self, scale, q, k, v, z, lse, dz, dq, dk, dv);
                  return {dq, dk, dv};
                });
}

}  // namespace mechlab
