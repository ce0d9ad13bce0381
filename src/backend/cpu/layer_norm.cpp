// LayerNorm rows: statistics in double, y = (x - mean) / sqrt(var + eps) with the biased variance.
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

void CpuBackend::layer_norm(const Tensor& x, double eps, Tensor& out, Tensor& stats) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* o = out.data<T>();
    T* st = stats.data<T>();
    cpu::parallel_chunks(rows, cpu::grain_for(width * 4), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* row = in + r * width;
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < width; ++c) mean += row[c];
        mean /= static_cast<double>(width);
        for (int64_t c = 0; c < width; ++c) var += (row[c] - mean) * (row[c] - mean);
        var /= static_cast<double>(width);
        const double rstd = 1.0 / std::sqrt(var + eps);
        for (int64_t c = 0; c < width; ++c) o[r * width + c] = static_cast<T>((row[c] - mean) * rstd);
        st[2 * r] = static_cast<T>(mean);
        st[2 * r + 1] = static_cast<T>(rstd);
      }
    });
  });
}

void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& stats, const Tensor& dout, Tensor& dx) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    const T* st = stats.data<T>();
    const T* g = dout.data<T>();
    T* d = dx.data<T>();
    cpu::parallel_chunks(rows, cpu::grain_for(width * 4), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const double mean = st[2 * r], rstd = st[2 * r + 1];
        const T* row = in + r * width;
        const T* grow = g + r * width;
        // dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
        double g_mean = 0.0, gx_mean = 0.0;
        for (int64_t c = 0; c < width; ++c) {
          g_mean += grow[c];
          gx_mean += grow[c] * (row[c] - mean) * rstd;
        }
        g_mean /= static_cast<double>(width);
        gx_mean /= static_cast<double>(width);
        for (int64_t c = 0; c < width; ++c)
          d[r * width + c] = static_cast<T>(rstd * (grow[c] - g_mean - (row[c] - mean) * rstd * gx_mean));
      }
    });
  });
}

}  // namespace mechlab
