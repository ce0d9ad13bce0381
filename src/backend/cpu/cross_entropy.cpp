// Row-wise cross-entropy: loss = logsumexp(logits) - logits[target]; the backward is softmax - onehot.
#include <cmath>
#include <stdexcept>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

void CpuBackend::cross_entropy(const Tensor& logits, const Tensor& targets, Tensor& loss, Tensor& lse) {
  const int64_t rows = logits.dim(0), V = logits.dim(1);
  const int32_t* target = targets.data<int32_t>();
  for (int64_t r = 0; r < rows; ++r)
    if (target[r] < 0 || target[r] >= V)
      throw std::out_of_range("cross_entropy: target " + std::to_string(target[r]) + " outside [0, " +
                              std::to_string(V) + ")");
  dispatch_float(logits.dtype(), [&]<typename T>() {
    const T* x = logits.data<T>();
    T* l = loss.data<T>();
    T* out_lse = lse.data<T>();
    cpu::parallel_chunks(rows, cpu::grain_for(V * 8), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* row = x + r * V;
        T max = row[0];
        for (int64_t v = 1; v < V; ++v) max = std::max(max, row[v]);
        double total = 0.0;
        for (int64_t v = 0; v < V; ++v) total += std::exp(static_cast<double>(row[v] - max));
        const double log_sum = static_cast<double>(max) + std::log(total);
        out_lse[r] = static_cast<T>(log_sum);
        l[r] = static_cast<T>(log_sum - row[target[r]]);
      }
    });
  });
}

void CpuBackend::cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                        const Tensor& dloss, Tensor& dlogits) {
  const int64_t rows = logits.dim(0), V = logits.dim(1);
  const int32_t* target = targets.data<int32_t>();
  dispatch_float(logits.dtype(), [&]<typename T>() {
    const T* x = logits.data<T>();
    const T* log_sum = lse.data<T>();
    const T* g = dloss.data<T>();
    T* d = dlogits.data<T>();
    cpu::parallel_chunks(rows, cpu::grain_for(V * 8), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        for (int64_t v = 0; v < V; ++v) d[r * V + v] = std::exp(x[r * V + v] - log_sum[r]) * g[r];
        d[r * V + target[r]] -= g[r];
      }
    });
  });
}

}  // namespace mechlab
