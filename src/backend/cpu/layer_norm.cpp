// LayerNorm rows: statistics in double, y = (x - mean) / sqrt(var + eps) * weight + bias with the biased
// variance; the affine is applied before the single rounding to T.
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

namespace {
// Row `row` of the optional per-group parameter rows (see Backend::layer_norm), or nullptr.
template <typename T> const T* group_row(const Tensor& param, int64_t row, int64_t rows, int64_t width) {
  if (!param.defined()) return nullptr;
  const int64_t groups = param.numel() / width;
  return param.data<T>() + (row / (rows / groups)) * width;
}
}  // namespace

void CpuBackend::layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, Tensor& out,
                            Tensor& stats) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    T* o = out.data<T>();
    T* st = stats.data<T>();
    cpu::parallel_chunks(rows, cpu::grain_for(width * 4), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const T* row = in + r * width;
        const T* w = group_row<T>(weight, r, rows, width);
        const T* b = group_row<T>(bias, r, rows, width);
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < width; ++c) mean += row[c];
        mean /= static_cast<double>(width);
        for (int64_t c = 0; c < width; ++c) var += (row[c] - mean) * (row[c] - mean);
        var /= static_cast<double>(width);
        const double rstd = 1.0 / std::sqrt(var + eps);
        for (int64_t c = 0; c < width; ++c) {
          double y = (row[c] - mean) * rstd;
          if (w) y *= w[c];
          if (b) y += b[c];
          o[r * width + c] = static_cast<T>(y);
        }
        st[2 * r] = static_cast<T>(mean);
        st[2 * r + 1] = static_cast<T>(rstd);
      }
    });
  });
}

void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& stats, const Tensor& weight, const Tensor& dout,
                                     Tensor& dx, Tensor& dout_xhat) {
  const int64_t width = x.dim(-1), rows = x.numel() / width;
  dispatch_float(x.dtype(), [&]<typename T>() {
    const T* in = x.data<T>();
    const T* st = stats.data<T>();
    const T* g = dout.data<T>();
    T* d = dx.data<T>();
    T* gx = dout_xhat.defined() ? dout_xhat.data<T>() : nullptr;
    cpu::parallel_chunks(rows, cpu::grain_for(width * 4), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const double mean = st[2 * r], rstd = st[2 * r + 1];
        const T* row = in + r * width;
        const T* grow = g + r * width;
        const T* w = group_row<T>(weight, r, rows, width);
        // With gw = g * weight: dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat))
        double g_mean = 0.0, gx_mean = 0.0;
        for (int64_t c = 0; c < width; ++c) {
          const double gw = w ? static_cast<double>(grow[c]) * w[c] : grow[c];
          g_mean += gw;
          gx_mean += gw * (row[c] - mean) * rstd;
        }
        g_mean /= static_cast<double>(width);
        gx_mean /= static_cast<double>(width);
        for (int64_t c = 0; c < width; ++c) {
          const double xhat = (row[c] - mean) * rstd;
          const double gw = w ? static_cast<double>(grow[c]) * w[c] : grow[c];
          d[r * width + c] = static_cast<T>(rstd * (gw - g_mean - xhat * gx_mean));
          if (gx) gx[r * width + c] = static_cast<T>(grow[c] * xhat);
        }
      }
    });
  });
}

}  // namespace mechlab
