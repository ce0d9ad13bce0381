// Causal attention patterns, one query row at a time: key j is visible to query i when j <= i (j < i when
// the query excludes itself; query 0 then sees nothing and its row is zero). With T' < T query rows they are
// positions T - T' .. T - 1.
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/fast_math.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

void CpuBackend::attention_pattern(AttentionKind kind, bool exclude_self, const Tensor& scores, Tensor& pattern) {
  const int64_t T_len = scores.dim(-1), rows = scores.numel() / T_len, queries = scores.dim(-2);
  dispatch_float(scores.dtype(), [&]<typename T>() {
    const T* s = scores.data<T>();
    T* p = pattern.data<T>();
    cpu::parallel_chunks(rows, cpu::grain_for(T_len * 8), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t visible = row % queries + (T_len - queries) + (exclude_self ? 0 : 1);  // keys 0 .. visible - 1
        const T* srow = s + row * T_len;
        T* prow = p + row * T_len;
        if (visible == 0) {
          // nothing to attend to: the row stays zero (the loop below)
        } else if (kind == AttentionKind::softmax) {
          T max = srow[0];
          for (int64_t j = 1; j < visible; ++j) max = std::max(max, srow[j]);
          for (int64_t j = 0; j < visible; ++j) prow[j] = cpu::exp_of(srow[j] - max);  // vectorises
          double total = 0.0;
          for (int64_t j = 0; j < visible; ++j) total += prow[j];
          const T inv = static_cast<T>(1.0 / total);
          for (int64_t j = 0; j < visible; ++j) prow[j] *= inv;
        } else if (is_relu_attention(kind)) {
          const T inv = T(1) / static_cast<T>(attention_divisor(kind, visible, T_len));
          for (int64_t j = 0; j < visible; ++j) prow[j] = srow[j] > T(0) ? srow[j] * inv : T(0);
        } else {
          const T inv = T(1) / static_cast<T>(attention_divisor(kind, visible, T_len));
          for (int64_t j = 0; j < visible; ++j) prow[j] = srow[j] * inv;
        }
        for (int64_t j = visible; j < T_len; ++j) prow[j] = T(0);
      }
    });
  });
}

void CpuBackend::attention_pattern_backward(AttentionKind kind, bool exclude_self, const Tensor& scores,
                                            const Tensor& pattern, const Tensor& dpattern, Tensor& dscores) {
  const int64_t T_len = scores.dim(-1), rows = scores.numel() / T_len, queries = scores.dim(-2);
  dispatch_float(scores.dtype(), [&]<typename T>() {
    const T* s = scores.data<T>();
    const T* p = pattern.data<T>();
    const T* dp = dpattern.data<T>();
    T* ds = dscores.data<T>();
    cpu::parallel_chunks(rows, cpu::grain_for(T_len * 8), [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        const int64_t visible = row % queries + (T_len - queries) + (exclude_self ? 0 : 1), base = row * T_len;
        if (visible == 0) {
          // nothing to attend to: the row stays zero (the loop below)
        } else if (kind == AttentionKind::softmax) {
          // d score_j = p_j (dp_j - sum_k dp_k p_k)
          double dot = 0.0;
          for (int64_t j = 0; j < visible; ++j) dot += static_cast<double>(dp[base + j]) * p[base + j];
          for (int64_t j = 0; j < visible; ++j) ds[base + j] = p[base + j] * (dp[base + j] - static_cast<T>(dot));
        } else if (is_relu_attention(kind)) {
          const T inv = T(1) / static_cast<T>(attention_divisor(kind, visible, T_len));
          for (int64_t j = 0; j < visible; ++j) ds[base + j] = s[base + j] > T(0) ? dp[base + j] * inv : T(0);
        } else {
          const T inv = T(1) / static_cast<T>(attention_divisor(kind, visible, T_len));
          for (int64_t j = 0; j < visible; ++j) ds[base + j] = dp[base + j] * inv;
        }
        for (int64_t j = visible; j < T_len; ++j) ds[base + j] = T(0);
      }
    });
  });
}

}  // namespace mechlab
