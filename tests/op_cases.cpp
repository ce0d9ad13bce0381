#include "op_cases.h"

#include "ops/ops.h"

namespace mechlab::testing {

namespace {
// Token ids or targets for an input of shape `shape` (all but the last axis), on `like`'s device.
Tensor ids_like(const Tensor& like, const Shape& shape, int32_t vocab) {
  std::vector<int32_t> ids(numel(shape));
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7 + 3 + i / 5) % vocab);
  return Tensor::from_vector<int32_t>(shape, ids).to(like.device());
}
Shape leading(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 1); }
Tensor constant(const Tensor& like, const Shape& shape, double value) {
  return Tensor::full(shape, value, like.dtype(), like.device());
}
// A 0/1 mask over the leading axes of x, about two thirds ones.
Tensor mask_like(const Tensor& x) {
  std::vector<double> mask(numel(leading(x)));
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = i % 3 == 1 ? 0.0 : 1.0;
  return Tensor::from_vector<double>(leading(x), mask).to(x.dtype()).to(x.device());
}
// x (..., T, E) rotated as positions first .. first + T - 1.
Tensor rotary_at(const Tensor& x, int64_t first, double base) {
  const auto [cos, sin] = rotary_tables(first, first + x.dim(-2), x.dim(-1), base, x.dtype(), x.device());
  return rotary(x, cos, sin);
}
// x (..., T, H, E) rotated with tables (T, 1, E), as a model rotates its queries and keys.
Tensor rotary_over_heads(const Tensor& x, double base) {
  const int64_t T = x.dim(-3), E = x.dim(-1);
  const auto [cos, sin] = rotary_tables(0, T, E, base, x.dtype(), x.device());
  return rotary(x, reshape(cos, {T, 1, E}), reshape(sin, {T, 1, E}));
}
// q, k, v (..., T, H, E) -> z: the heads' attention (fused on CUDA) with scores scaled by 0.7.
TensorFn attention_of(AttentionKind kind, bool exclude_self) {
  return [=](const std::vector<Tensor>& x) { return attention(x[0], x[1], x[2], kind, exclude_self, 0.7); };
}
}  // namespace

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = {
      {"matmul", {{3, 4, 5}, {3, 5, 2}}, [](auto& x) { return matmul(x[0], x[1]); }, 0, {{4, 130, 70}, {4, 70, 300}}},
      {"matmul A^T", {{2, 5, 4}, {2, 5, 3}}, [](auto& x) { return matmul(x[0], x[1], true, false); }, 0, {{3, 70, 40}, {3, 70, 90}}},
      {"matmul B^T", {{2, 4, 5}, {2, 3, 5}}, [](auto& x) { return matmul(x[0], x[1], false, true); }, 0, {{3, 40, 70}, {3, 90, 70}}},
      {"matmul A^T B^T", {{2, 5, 4}, {2, 3, 5}}, [](auto& x) { return matmul(x[0], x[1], true, true); }},
      {"matmul scaled (alpha)", {{2, 4, 5}, {2, 3, 5}}, [](auto& x) { return matmul(x[0], x[1], false, true, 0.37); }},
      {"batched matmul (R, H, B)", {{2, 3, 2, 4, 5}, {2, 3, 2, 5, 4}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"matmul tall (several row tiles)", {{1, 130, 3}, {1, 3, 2}}, [](auto& x) { return matmul(x[0], x[1]); }},
      {"add", {{2, 3, 4}, {2, 3, 4}}, [](auto& x) { return add(x[0], x[1]); }, 0, {{64, 33, 65}, {64, 33, 65}}},
      {"add broadcast trailing", {{2, 3, 4}, {4}}, [](auto& x) { return add(x[0], x[1]); }, 0, {{8, 300, 64}, {64}}},
      // One row per replica added to every row (a bias): CUDA's row-broadcast kernel, four floats at a time when the
      // width allows, one otherwise.
      {"add one row per replica", {{2, 3, 4}, {2, 1, 4}}, [](auto& x) { return add(x[0], x[1]); }, 0,
       {{4, 130, 64}, {4, 1, 64}}},
      {"sub one row per replica, odd width", {{2, 3, 5}, {2, 1, 5}}, [](auto& x) { return sub(x[0], x[1]); }, 0,
       {{3, 70, 33}, {3, 1, 33}}},
      {"add broadcast both", {{2, 1, 4}, {1, 3, 1}}, [](auto& x) { return add(x[0], x[1]); }},
      {"sub broadcast", {{2, 3, 4}, {3, 1}}, [](auto& x) { return sub(x[0], x[1]); }},
      {"mul", {{2, 3, 4}, {2, 3, 4}}, [](auto& x) { return mul(x[0], x[1]); }},
      {"mul broadcast replica axis", {{2, 3, 4}, {2, 1, 1}}, [](auto& x) { return mul(x[0], x[1]); }, 0, {{4, 512, 64}, {4, 1, 1}}},
      {"div broadcast", {{2, 3, 4}, {3, 1}}, [](auto& x) { return div(x[0], add(x[1], constant(x[1], x[1].shape(), 3.0))); }},
      {"scale", {{2, 3, 4}}, [](auto& x) { return scale(x[0], -1.7); }},
      {"relu", {{2, 3, 4}}, [](auto& x) { return relu(x[0]); }, 0.05},
      {"gelu", {{2, 3, 4}}, [](auto& x) { return gelu(scale(x[0], 3.0)); }, 0, {{64, 1000}}},
      {"square", {{2, 3, 4}}, [](auto& x) { return square(x[0]); }},
      {"gelu then matmul, recomputed", {{2, 3, 4}, {2, 4, 5}},
       [](auto& x) { return activation_matmul(scale(x[0], 3.0), x[1], UnaryOp::gelu); }, 0, {{4, 300, 64}, {4, 64, 70}}},
      {"relu then matmul, recomputed", {{2, 3, 4}, {2, 4, 5}},
       [](auto& x) { return activation_matmul(x[0], x[1], UnaryOp::relu); }, 0.05, {{4, 300, 64}, {4, 64, 70}}},
      {"sum axis", {{2, 3, 4}}, [](auto& x) { return sum(x[0], {1}); }, 0, {{3, 5000, 70}}},
      {"sum over a short middle axis of many rows", {{3, 4, 2, 5}}, [](auto& x) { return sum(x[0], {2}); }, 0,
       {{70000, 2, 8}}},  // more outer rows than a CUDA grid's z extent (token pairs of a large batch)
      {"sum over a middle axis, each block adding several slices", {{2, 3, 4}}, [](auto& x) { return sum(x[0], {1}); },
       0, {{300, 1000, 8}}},
      {"sum non-adjacent axes keepdim", {{2, 3, 4}}, [](auto& x) { return sum(x[0], {0, 2}, true); }, 0, {{40, 3, 300}}},
      {"sum all", {{2, 3, 4}}, [](auto& x) { return sum(x[0], {0, 1, 2}); }, 0, {{30, 70, 50}}},
      {"mean last axis", {{2, 3, 4}}, [](auto& x) { return mean(x[0], {-1}); }, 0, {{300, 1000}}},
      {"reshape", {{2, 3, 4}}, [](auto& x) { return reshape(x[0], {4, -1}); }},
      {"permute", {{2, 3, 4}}, [](auto& x) { return permute(x[0], {2, 0, 1}); }, 0, {{64, 33, 16}}},
      {"permute moving only an axis of length one (a view)", {{2, 3, 1, 4}},
       [](auto& x) { return permute(x[0], {0, 2, 1, 3}); }},
      {"transpose", {{2, 3, 4, 5}}, [](auto& x) { return transpose(x[0], 1, 3); }},
      {"slice", {{2, 5, 3}}, [](auto& x) { return slice(x[0], 1, 1, 4); }},
      {"concat", {{2, 2, 3}, {2, 4, 3}}, [](auto& x) { return concat({x[0], x[1]}, 1); }},
      {"repeat", {{2, 3, 4}}, [](auto& x) { return repeat(x[0], 1, 3); }, 0, {{4, 64, 33}}},
      {"broadcast_to", {{3, 1}}, [](auto& x) { return broadcast_to(x[0], {2, 3, 4}); }},
      {"embedding (repeated ids)", {{2, 5, 3}},
       [](auto& x) { return embedding(x[0], ids_like(x[0], {2, 4}, 5)); }},
      {"embedding large", {{2, 66, 64}}, [](auto& x) { return embedding(x[0], ids_like(x[0], {2, 6}, 66)); }, 0,
       {{2, 66, 64}}},
      {"attention softmax", {{2, 3, 5, 5}}, [](auto& x) { return attention_pattern(scale(x[0], 3.0), AttentionKind::softmax); },
       0, {{2, 3, 70, 70}}},
      {"attention relu", {{2, 3, 5, 5}}, [](auto& x) { return attention_pattern(x[0], AttentionKind::relu); }, 0.05,
       {{2, 3, 70, 70}}},
      {"attention relu_by_length", {{2, 3, 5, 5}}, [](auto& x) { return attention_pattern(x[0], AttentionKind::relu_by_length); },
       0.05, {{2, 3, 70, 70}}},
      {"attention softmax, self excluded", {{2, 3, 5, 5}},
       [](auto& x) { return attention_pattern(scale(x[0], 3.0), AttentionKind::softmax, true); }, 0, {{2, 3, 70, 70}}},
      {"attention relu, self excluded", {{2, 3, 5, 5}},
       [](auto& x) { return attention_pattern(x[0], AttentionKind::relu, true); }, 0.05, {{2, 3, 70, 70}}},
      {"attention linear", {{2, 3, 5, 5}}, [](auto& x) { return attention_pattern(x[0], AttentionKind::linear); }, 0,
       {{2, 3, 70, 70}}},
      {"attention linear, self excluded", {{2, 3, 5, 5}},
       [](auto& x) { return attention_pattern(x[0], AttentionKind::linear, true); }, 0, {{2, 3, 70, 70}}},
      {"attention linear_by_length", {{2, 3, 5, 5}},
       [](auto& x) { return attention_pattern(x[0], AttentionKind::linear_by_length); }, 0, {{2, 3, 70, 70}}},
      {"attention linear_by_length, self excluded", {{2, 3, 5, 5}},
       [](auto& x) { return attention_pattern(x[0], AttentionKind::linear_by_length, true); }, 0, {{2, 3, 70, 70}}},
      // Fewer query rows than keys: the queries are the last positions (a forward pass over later positions only).
      {"attention softmax, later queries", {{2, 3, 3, 5}},
       [](auto& x) { return attention_pattern(scale(x[0], 3.0), AttentionKind::softmax); }, 0, {{2, 3, 41, 70}}},
      {"attention softmax, later queries, self excluded", {{2, 3, 3, 5}},
       [](auto& x) { return attention_pattern(scale(x[0], 3.0), AttentionKind::softmax, true); }, 0, {{2, 3, 41, 70}}},
      {"attention relu_by_length, later queries", {{2, 3, 2, 5}},
       [](auto& x) { return attention_pattern(x[0], AttentionKind::relu_by_length); }, 0.05, {{2, 3, 41, 70}}},
      {"attention linear_by_length, later queries", {{2, 3, 4, 5}},
       [](auto& x) { return attention_pattern(x[0], AttentionKind::linear_by_length); }, 0, {{2, 3, 41, 70}}},
      // Attention from q, k, v: on CUDA the fused kernels, by rows for E <= 32 (f64: 16) padded to 4, 8, 16, 32,
      // by 64-position tiles for E <= 64 padded to 16, 32, 64, and composed above; the shapes cross tiles and widths.
      {"fused attention softmax", {{2, 5, 3, 4}, {2, 5, 3, 4}, {2, 5, 3, 4}}, attention_of(AttentionKind::softmax, false),
       0, {{2, 70, 2, 20}, {2, 70, 2, 20}, {2, 70, 2, 20}}},
      {"fused attention softmax, replicas and batch", {{2, 2, 4, 2, 4}, {2, 2, 4, 2, 4}, {2, 2, 4, 2, 4}},
       attention_of(AttentionKind::softmax, false), 0, {{2, 3, 64, 4, 16}, {2, 3, 64, 4, 16}, {2, 3, 64, 4, 16}}},
      {"fused attention softmax, later queries, self excluded", {{2, 3, 2, 4}, {2, 5, 2, 4}, {2, 5, 2, 4}},
       attention_of(AttentionKind::softmax, true), 0, {{2, 41, 1, 48}, {2, 70, 1, 48}, {2, 70, 1, 48}}},
      {"fused attention softmax, wide heads", {{2, 5, 2, 40}, {2, 5, 2, 40}, {2, 5, 2, 40}},
       attention_of(AttentionKind::softmax, false), 0, {{2, 70, 1, 130}, {2, 70, 1, 130}, {2, 70, 1, 130}}},
      {"fused attention relu, wide heads, self excluded", {{1, 4, 2, 24}, {1, 4, 2, 24}, {1, 4, 2, 24}},
       attention_of(AttentionKind::relu, true), 0, {{2, 140, 2, 24}, {2, 140, 2, 24}, {2, 140, 2, 24}}},
      {"fused attention relu", {{2, 5, 3, 4}, {2, 5, 3, 4}, {2, 5, 3, 4}}, attention_of(AttentionKind::relu, false), 0,
       {{2, 100, 2, 64}, {2, 100, 2, 64}, {2, 100, 2, 64}}},
      {"fused attention relu_by_length, self excluded", {{2, 5, 3, 4}, {2, 5, 3, 4}, {2, 5, 3, 4}},
       attention_of(AttentionKind::relu_by_length, true), 0, {{1, 66, 2, 128}, {1, 66, 2, 128}, {1, 66, 2, 128}}},
      {"fused attention linear, later queries", {{2, 4, 3, 4}, {2, 5, 3, 4}, {2, 5, 3, 4}},
       attention_of(AttentionKind::linear, false), 0, {{3, 30, 2, 8}, {3, 70, 2, 8}, {3, 70, 2, 8}}},
      {"fused attention linear_by_length, self excluded", {{2, 5, 3, 4}, {2, 5, 3, 4}, {2, 5, 3, 4}},
       attention_of(AttentionKind::linear_by_length, true), 0, {{2, 65, 3, 32}, {2, 65, 3, 32}, {2, 65, 3, 32}}},
      {"rotary over heads", {{2, 5, 3, 4}}, [](auto& x) { return rotary_over_heads(x[0], 10000.0); }, 0,
       {{4, 41, 8, 32}}},
      {"rotary", {{2, 3, 5, 4}}, [](auto& x) { return rotary_at(x[0], 0, 10000.0); }, 0, {{4, 8, 41, 32}}},
      {"rotary, later positions, base 2000", {{2, 3, 5, 6}}, [](auto& x) { return rotary_at(x[0], 7, 2000.0); }, 0,
       {{4, 8, 41, 16}}},
      {"layer_norm", {{2, 3, 6}}, [](auto& x) { return layer_norm(x[0]); }, 0, {{4, 100, 100}}},
      {"layer_norm weight bias", {{2, 3, 6}, {6}, {6}}, [](auto& x) { return layer_norm(x[0], x[1], x[2]); }, 0,
       {{8, 64, 256}, {256}, {256}}},
      {"layer_norm, rows wider than CUDA keeps in registers", {{2, 3, 6}, {6}, {6}},
       [](auto& x) { return layer_norm(x[0], x[1], x[2]); }, 0, {{2, 10, 300}, {300}, {300}}},
      {"layer_norm weight only, narrow rows (several a warp on CUDA, the last warp partly full)", {{2, 3, 6}, {6}},
       [](auto& x) { return layer_norm(x[0], x[1], Tensor()); }, 0, {{3, 37, 8}, {8}}},
      {"layer_norm per-replica weight bias", {{2, 3, 4, 6}, {2, 1, 1, 6}, {2, 1, 1, 6}},
       [](auto& x) { return layer_norm(x[0], x[1], x[2]); }, 0, {{4, 64, 64, 64}, {4, 1, 1, 64}, {4, 1, 1, 64}}},
      {"layer_norm shared weight, per-replica bias", {{2, 3, 6}, {6}, {2, 1, 6}},
       [](auto& x) { return layer_norm(x[0], x[1], x[2]); }, 0, {{4, 100, 64}, {64}, {4, 1, 64}}},
      {"token_cross_entropy", {{2, 3, 7}},
       [](auto& x) { return token_cross_entropy(scale(x[0], 3.0), ids_like(x[0], leading(x[0]), x[0].dim(-1))); }, 0,
       {{2, 64, 200}}},
      {"cross_entropy masked", {{2, 3, 7}},
       [](auto& x) {
         return cross_entropy(scale(x[0], 3.0), ids_like(x[0], leading(x[0]), x[0].dim(-1)), mask_like(x[0]));
       },
       0, {{4, 64, 66}}},
      {"mse", {{2, 3, 4}, {2, 3, 4}}, [](auto& x) { return mse(x[0], x[1]); }},
      {"masked_mse", {{2, 3, 4, 2}, {2, 3, 4, 2}}, [](auto& x) { return masked_mse(x[0], x[1], mask_like(x[0])); }, 0,
       {{4, 64, 41, 1}, {4, 64, 41, 1}}},
  };
  return cases;
}

}  // namespace mechlab::testing
