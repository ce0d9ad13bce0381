// Differentiable ops. Each op's forward and backward live together in one file of src/ops and call only
// backend kernels, so they run unchanged on every backend. Dimension letters: R replicas, B batch,
// T positions, D model width, H heads, E head width, V vocabulary.
#pragma once
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "tensor/tensor.h"

namespace mechlab {

// Products alpha * op(a) op(b). Leading (batch) dims of a and b must match; op() transposes the last two
// dims. alpha saves a separate scaling pass (attention scores are the largest tensors of a step).
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a = false, bool transpose_b = false, double alpha = 1.0);

// Elementwise with NumPy broadcasting.
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, double factor);
Tensor relu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact (erf) form, as torch.nn.GELU()
// activation(x) @ w (activation relu or gelu), recomputing activation(x) in the backward instead of keeping it.
Tensor activation_matmul(const Tensor& x, const Tensor& w, UnaryOp activation);
Tensor square(const Tensor& x);

// Reductions over the given axes (negative counts from the end).
Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim = false);
// Sums a broadcast result back to `shape` (the gradient of broadcasting).
Tensor sum_to_shape(const Tensor& x, const Shape& shape);
Tensor broadcast_to(const Tensor& x, const Shape& shape);

// Layout.
Tensor reshape(const Tensor& x, const Shape& shape);  // one extent may be -1
Tensor permute(const Tensor& x, const std::vector<int>& order);
Tensor transpose(const Tensor& x, int axis_a, int axis_b);
Tensor slice(const Tensor& x, int axis, int64_t start, int64_t stop);
Tensor concat(const std::vector<Tensor>& xs, int axis);
// `copies` whole copies of x one after another along `axis` (x itself for one), in one copy.
Tensor repeat(const Tensor& x, int axis, int64_t copies);

// table (R, V, D), ids i32 (R, ...) -> (R, ..., D).
Tensor embedding(const Tensor& table, const Tensor& ids);
// R copies of the n x n identity, (R, n, n): the embedding table that turns ids in [0, n) into one-hot rows on the
// device, so that only the ids travel there.
Tensor identity_tables(int64_t R, int64_t n, DType dtype, Device device);

// scores (..., T', T) -> causal attention pattern of the given kind. The T' <= T queries are the last T'
// positions (T' < T: a forward pass that computes only the later positions, nn/transformer.h's window).
Tensor attention_pattern(const Tensor& scores, AttentionKind kind, bool exclude_self = false);
// q (..., T', H, E), k and v (..., T, H, E) in the projections' layout -> z (..., T', H, E): each head's
// attention_pattern(scale * q k^T) times v. Fused where the backend can and is allowed to (CUDA with
// train.fused_attention: the T x T pattern never exists); elsewhere the same composition of matmul and
// attention_pattern that a model with hooks on the pattern runs.
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, AttentionKind kind, bool exclude_self, double scale);
// (..., T, H, E) <-> (..., H, T, E): the heads as a batch axis of attention's products.
Tensor heads_first(const Tensor& x);

// Rotary position embedding of x (..., T, E), E even, with cos and sin tables (T, E) from rotary_tables: the
// half-split (GPT-NeoX) form, x * cos + rotate_half(x) * sin with rotate_half(x) = [-x2, x1]. Tables
// (T, 1, E) rotate x (..., T, H, E), every head alike.
Tensor rotary(const Tensor& x, const Tensor& cos, const Tensor& sin);
// The tables for positions first .. last - 1: angle t * base^(-2i/E) for features i and i + E/2, i < E/2.
std::pair<Tensor, Tensor> rotary_tables(int64_t first, int64_t last, int64_t E, double base, DType dtype, Device device);

// Normalises over the last axis; weight and bias (each optional) are applied after in the same kernel.
// They are (D) or, for per-replica values, (R, 1, ..., 1, D) with R = x.dim(0).
Tensor layer_norm(const Tensor& x, double eps = 1e-5);
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

// logits (R, ..., V), targets i32 (R, ...) -> per-position cross-entropy (R, ...).
Tensor token_cross_entropy(const Tensor& logits, const Tensor& targets);
// Per-replica mean cross-entropy over positions where mask != 0 -> (R). mask (R, ...) or undefined (all).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const Tensor& mask = Tensor());
// Per-replica mean squared error -> (R).
Tensor mse(const Tensor& prediction, const Tensor& target);
// Mean squared error per replica over the positions `mask` (R, B, T) selects, squared errors averaged over the
// output axis: prediction and target (R, B, T, K). The loss of a readout model on chosen positions.
Tensor masked_mse(const Tensor& prediction, const Tensor& target, const Tensor& mask);

}  // namespace mechlab
