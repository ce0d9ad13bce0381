// Causal attention patterns, one warp per query row: key j is visible to query i when j <= i (j < i when the
// query excludes itself; query 0 then sees nothing and its row is zero). With `queries` < `length` query rows
// they are positions length - queries .. length - 1.
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_math.cuh"
#include "backend/cuda/rows.cuh"
#include "backend/cuda/strided.cuh"

namespace mechlab {

using namespace cuda;

namespace {
template <typename T>
__global__ void pattern_kernel(AttentionKind kind, bool exclude_self, const T* scores, T* pattern, int64_t rows,
                               int64_t length, int64_t queries) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int64_t i = row % queries + (length - queries) - (exclude_self ? 1 : 0);  // the last visible key
  const T* s = scores + row * length;
  T* p = pattern + row * length;
  if (i < 0) {
    for (int64_t j = lane(); j < length; j += 32) p[j] = T(0);
  } else if (kind == AttentionKind::softmax) {
    T max_score = -INFINITY;
    for (int64_t j = lane(); j <= i; j += 32) max_score = max(max_score, s[j]);
    max_score = warp_max(max_score);
    double total = 0.0;
    for (int64_t j = lane(); j <= i; j += 32) total += exp_of(s[j] - max_score);
    const T inverse = static_cast<T>(1.0 / warp_sum(total));
    for (int64_t j = lane(); j < length; j += 32) p[j] = j <= i ? exp_of(s[j] - max_score) * inverse : T(0);
  } else if (is_relu_attention(kind)) {
    const T inverse = T(1) / static_cast<T>(attention_divisor(kind, i + 1, length));  // i + 1 keys are visible
    for (int64_t j = lane(); j < length; j += 32) p[j] = (j <= i && s[j] > T(0)) ? s[j] * inverse : T(0);
  } else {
    const T inverse = T(1) / static_cast<T>(attention_divisor(kind, i + 1, length));
    for (int64_t j = lane(); j < length; j += 32) p[j] = j <= i ? s[j] * inverse : T(0);
  }
}

template <typename T>
__global__ void pattern_backward_kernel(AttentionKind kind, bool exclude_self, const T* scores, const T* pattern,
                                        const T* dpattern, T* dscores, int64_t rows, int64_t length, int64_t queries) {
  const int64_t row = warp_row();
  if (row >= rows) return;
  const int64_t i = row % queries + (length - queries) - (exclude_self ? 1 : 0), base = row * length;  // the last visible key
  if (i < 0) {
    for (int64_t j = lane(); j < length; j += 32) dscores[base + j] = T(0);
  } else if (kind == AttentionKind::softmax) {
    double dot = 0.0;
    for (int64_t j = lane(); j <= i; j += 32) dot += static_cast<double>(dpattern[base + j]) * pattern[base + j];
    const T total = static_cast<T>(warp_sum(dot));
    for (int64_t j = lane(); j < length; j += 32)
      dscores[base + j] = j <= i ? pattern[base + j] * (dpattern[base + j] - total) : T(0);
  } else if (is_relu_attention(kind)) {
    const T inverse = T(1) / static_cast<T>(attention_divisor(kind, i + 1, length));  // i + 1 keys are visible
    for (int64_t j = lane(); j < length; j += 32)
      dscores[base + j] = (j <= i && scores[base + j] > T(0)) ? dpattern[base + j] * inverse : T(0);
  } else {
    const T inverse = T(1) / static_cast<T>(attention_divisor(kind, i + 1, length));
    for (int64_t j = lane(); j < length; j += 32) dscores[base + j] = j <= i ? dpattern[base + j] * inverse : T(0);
  }
}
}  // namespace

void CudaBackend::attention_pattern(AttentionKind kind, bool exclude_self, const Tensor& scores, Tensor& pattern) {
  const int64_t length = scores.dim(-1), rows = scores.numel() / length, queries = scores.dim(-2);
  if (rows == 0) return;
  dispatch_float(scores.dtype(), [&]<typename T>() {
    pattern_kernel<<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(kind, exclude_self, scores.data<T>(),
                                                                         pattern.data<T>(), rows, length, queries);
  });
  check_launch("attention_pattern");
}

void CudaBackend::attention_pattern_backward(AttentionKind kind, bool exclude_self, const Tensor& scores,
                                             const Tensor& pattern, const Tensor& dpattern, Tensor& dscores) {
  const int64_t length = scores.dim(-1), rows = scores.numel() / length, queries = scores.dim(-2);
  if (rows == 0) return;
  dispatch_float(scores.dtype(), [&]<typename T>() {
    pattern_backward_kernel<<<row_blocks(rows), 32 * kRowsPerBlock, 0, stream_>>>(
        kind, exclude_self, scores.data<T>(), pattern.data<T>(), dpattern.data<T>(), dscores.data<T>(), rows, length,
        queries);
  });
  check_launch("attention_pattern_backward");
}

}  // namespace mechlab
