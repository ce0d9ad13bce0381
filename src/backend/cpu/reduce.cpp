// Sums over an axis and per-replica sums of squares. Each output element is summed sequentially in a
// fixed order with a double accumulator: deterministic, and accurate over long axes in f32.
#include <algorithm>
#include <vector>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

void CpuBackend::sum_mid(const Tensor& x, int64_t outer, int64_t mid, int64_t inner, Tensor& out) {
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* o = out.data<T>();
    constexpr int64_t kColumns = 256;  // inner columns summed together, one accumulator each
    const int64_t column_blocks = (inner + kColumns - 1) / kColumns;
    cpu::parallel_chunks(outer * column_blocks, cpu::grain_for(mid * std::min(inner, kColumns)),
                         [&](int64_t begin, int64_t end) {
                           double acc[kColumns];
                           for (int64_t task = begin; task < end; ++task) {
                             const int64_t o_index = task / column_blocks;
                             const int64_t c0 = (task % column_blocks) * kColumns;
                             const int64_t width = std::min(kColumns, inner - c0);
                             for (int64_t c = 0; c < width; ++c) acc[c] = 0.0;
                             const T* base = in + o_index * mid * inner + c0;
                             for (int64_t m = 0; m < mid; ++m)
                               for (int64_t c = 0; c < width; ++c) acc[c] += static_cast<double>(base[m * inner + c]);
                             for (int64_t c = 0; c < width; ++c) o[o_index * inner + c0 + c] = static_cast<T>(acc[c]);
                           }
                         });
  });
}

void CpuBackend::sum_squares_per_replica(const std::vector<Tensor>& xs, Tensor& out) {
  double* o = out.data<double>();
  const int64_t R = out.numel();
  std::fill(o, o + R, 0.0);
  for (const Tensor& x : xs) {
    const int64_t block = x.numel() / R;
    dispatch_float(x.dtype(), [&]<typename T>() {
      const T* in = x.data<T>();
      cpu::parallel_chunks(R, 1, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          double acc = 0.0;
          for (int64_t i = 0; i < block; ++i) acc += static_cast<double>(in[r * block + i]) * in[r * block + i];
          o[r] += acc;
        }
      });
    });
  }
}

}  // namespace mechlab
