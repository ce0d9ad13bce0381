// The kernel interface every backend implements. Ops (src/ops) call only these, through backend_for(),
// so a new backend adds kernels and never touches an op. Tensors passed in are contiguous; `out`
// tensors are allocated by the caller with the right shape and dtype.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "tensor/tensor.h"

namespace mechlab {

// A strided window into a contiguous tensor: element (i0, i1, ...) is at offset + sum_k i_k * strides[k].
// Stride 0 broadcasts an axis.
struct StridedView {
  Shape shape;
  std::vector<int64_t> strides;
  int64_t offset = 0;
  static StridedView contiguous(const Shape& shape) { return {shape, contiguous_strides(shape), 0}; }
};

// C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] for b < batch, row-major, op = optional transpose.
// A[b] starts at b * a_batch_stride (0 = the same A for every b).
struct GemmShape {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t a_batch_stride = 0, b_batch_stride = 0, c_batch_stride = 0;
  double alpha = 1.0, beta = 0.0;
};

enum class BinaryOp { add, sub, mul, div };
enum class UnaryOp { scale, relu, gelu, square };
// softmax: causal softmax; relu: ReLU(scores) / (number of visible keys); relu_by_length: ReLU(scores) / T,
// the same divisor for every query; linear: scores, causally masked; linear_by_length: scores / (number of
// visible keys), so a query's output is the mean of its keys' weighted values at any sequence length.
enum class AttentionKind { softmax, relu, relu_by_length, linear, linear_by_length };

constexpr bool is_relu_attention(AttentionKind kind) {
  return kind == AttentionKind::relu || kind == AttentionKind::relu_by_length;
}
// What ReLU and linear attention divide the scores of a query that sees `visible` keys of a length-T
// sequence by (1 for plain linear attention). constexpr, so the CUDA kernels call them too.
constexpr int64_t attention_divisor(AttentionKind kind, int64_t visible, int64_t length) {
  if (kind == AttentionKind::relu_by_length) return length;
  return kind == AttentionKind::linear ? 1 : visible;
}

// Constant hyper-parameters of an optimizer. What changes from step to step (scheduled learning rate,
// bias corrections) arrives in a device tensor, so a captured step replays with new values.
struct AdamStep {
  double beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: decay the parameter directly instead of adding wd * p to the gradient
};
struct SgdStep {
  double momentum, weight_decay;
};
// One parameter in an optimizer update (second_moment is undefined for SGD).
struct OptimizerSlot {
  Tensor param, grad, first_moment, second_moment;
};

// Columns of the per-step values tensor (R, 3) f64 the optimizer kernels read.
// How CUDA multiplies fp32 matrices: fp32 (exact fp32 products) or tf32 (tensor cores round the inputs
// to a 10-bit mantissa and accumulate in fp32). The CPU always computes in full precision.
enum class MatmulPrecision { fp32, tf32 };

enum StepValue { kLearningRate = 0, kBias1 = 1 /* 1 - beta1^t */, kBias2Sqrt = 2 /* sqrt(1 - beta2^t) */ };

class Backend {
 public:
  virtual ~Backend() = default;

  virtual void* allocate(size_t bytes) = 0;
  virtual void release(void* data, size_t bytes) = 0;
  // Bytes it may still allocate (free device memory; for the CPU what the host, its cgroup and rlimits
  // allow): the memory check compares its estimate of a run with this before anything is written.
  virtual double available_bytes() const = 0;
  // Bytes in live tensors now, and the most there were since the last reset_peak(): what an analysis
  // reports as its peak memory, and what the memory tests compare the estimates with.
  virtual size_t live_bytes() const = 0;
  virtual size_t peak_live_bytes() const = 0;
  virtual void reset_peak() = 0;
  virtual void copy_from_host(void* dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, const void* src, size_t bytes) = 0;

  virtual void fill(Tensor& out, double value) = 0;
  virtual void convert(const Tensor& x, Tensor& out) = 0;  // dtype conversion, same shape
  // out[view_out] (+)= x[view_x], both views of the same shape.
  virtual void strided_copy(const Tensor& x, const StridedView& view_x, Tensor& out, const StridedView& view_out,
                            bool accumulate) = 0;

  virtual void gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmShape& shape) = 0;
  virtual void set_matmul_precision(MatmulPrecision) {}
  // The model now running packs this many replicas along the leading axis of its products (the model's
  // forward says so; it holds for its backward too). A hint only: the CUDA backend chooses each product's
  // algorithm from the batch per replica, so replica r computes exactly what its seed computes alone.
  virtual void set_replica_count(int64_t) {}
  // out = a op b over the broadcast shape of the two views (out is contiguous in that shape).
  virtual void binary(BinaryOp op, const Tensor& a, const StridedView& view_a, const Tensor& b,
                      const StridedView& view_b, Tensor& out) = 0;
  virtual void unary(UnaryOp op, const Tensor& x, Tensor& out, double scalar) = 0;
  // Elementwise: dx may be dout itself.
  virtual void unary_backward(UnaryOp op, const Tensor& x, const Tensor& dout, Tensor& dx, double scalar) = 0;
  // x viewed as (outer, mid, inner) -> out (outer, inner), summed over mid in a fixed order.
  virtual void sum_mid(const Tensor& x, int64_t outer, int64_t mid, int64_t inner, Tensor& out) = 0;

  // table (R, V, D), ids (R, N) -> out (R, N, D); and the scatter-add back into dtable.
  virtual void gather_rows(const Tensor& table, const Tensor& ids, Tensor& out) = 0;
  virtual void scatter_add_rows(const Tensor& dout, const Tensor& ids, Tensor& dtable) = 0;

  // scores and pattern (..., T, T), query-major, causal: query i sees keys j <= i, or j < i with exclude_self
  // (then query 0 sees nothing and its row is zero).
  virtual void attention_pattern(AttentionKind kind, bool exclude_self, const Tensor& scores, Tensor& pattern) = 0;
  // Only the ReLU kinds read the scores' values; the others are given the pattern in their place.
  virtual void attention_pattern_backward(AttentionKind kind, bool exclude_self, const Tensor& scores,
                                          const Tensor& pattern, const Tensor& dpattern, Tensor& dscores) = 0;

  // Attention without the T x T pattern in memory, where a backend has it: q (N..., T', H, E), k and v
  // (N..., T, H, E) -> z (N..., T', H, E), z = pattern(scale * q k^T) v per example and head, the pattern as
  // attention_pattern's with query i at position T - T' + i. lse (N, H, T') keeps the softmax's log-sum-exp
  // for the backward. Ops call these only where supports_fused_attention says yes.
  virtual bool supports_fused_attention(DType, int64_t /*head_width*/) const { return false; }
  virtual void allow_fused_attention(bool) {}  // train.fused_attention; off by default: the composed path
  virtual void fused_attention(AttentionKind, bool /*exclude_self*/, double /*scale*/, const Tensor& /*q*/,
                               const Tensor& /*k*/, const Tensor& /*v*/, Tensor& /*z*/, Tensor& /*lse*/) {
    throw std::logic_error("fused_attention: not supported by this backend");
  }
  virtual void fused_attention_backward(AttentionKind, bool /*exclude_self*/, double /*scale*/, const Tensor& /*q*/,
                                        const Tensor& /*k*/, const Tensor& /*v*/, const Tensor& /*z*/,
                                        const Tensor& /*lse*/, const Tensor& /*dz*/, Tensor& /*dq*/, Tensor& /*dk*/,
                                        Tensor& /*dv*/) {
    throw std::logic_error("fused_attention_backward: not supported by this backend");
  }

  // Normalises rows of width D = x.shape().back(), then applies the optional affine: out = xhat * weight + bias.
  // weight and bias hold G rows of D values (G = 1, or one row per leading-axis index: G = x.dim(0)), row
  // group g = row / (rows / G). stats (rows, 2) holds mean and 1/std for the backward.
  virtual void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& out,
                          Tensor& stats) = 0;
  // dx from dout (scaled by weight where defined); where dout_xhat is defined it receives dout * xhat, whose
  // row sums give the weight's gradient.
  virtual void layer_norm_backward(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& dout,
                                   Tensor& dx, Tensor& dout_xhat) = 0;

  // Per-row cross-entropy of logits (rows, V) against i32 targets (rows); lse (rows) keeps log-sum-exp.
  virtual void cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& loss, Tensor& lse) = 0;
  virtual void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                      const Tensor& dloss, Tensor& dlogits) = 0;

  // Optimizer and clipping kernels over all parameters (R, ...) at once, so a step launches a few
  // kernels rather than a few per parameter. step_values (R, 3) f64 (see StepValue); grad_scale (R) f64
  // multiplies the gradient (clipping).
  // out (R) f64 = the sum of squares of every tensor of xs, per replica.
  virtual void sum_squares_per_replica(const std::vector<Tensor>& xs, Tensor& out) = 0;
  // scale[r] = min(1, clip_norm / (sqrt(squares[r]) + 1e-6)) as torch's clip_grad_norm_; 1 when clip_norm is 0.
  virtual void clip_scales(const Tensor& squares, double clip_norm, Tensor& scales) = 0;
  virtual void adam_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values,
                           const Tensor& grad_scale, const AdamStep& step) = 0;
  virtual void sgd_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values, const Tensor& grad_scale,
                          const SgdStep& step) = 0;
};

Backend& backend_for(Device device);
// The CUDA backend, or nullptr when mechlab was built without nvcc or no GPU is usable.
Backend* cuda_backend_or_null();

}  // namespace mechlab
