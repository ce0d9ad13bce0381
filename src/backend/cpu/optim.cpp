// Optimizer updates, elementwise per replica block. Scalars are formed in double as PyTorch does.
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

void CpuBackend::clip_scales(const Tensor& squares, double clip_norm, Tensor& scales) {
  const double* sq = squares.data<double>();
  double* out = scales.data<double>();
  for (int64_t r = 0; r < squares.numel(); ++r)
    out[r] = clip_norm > 0 ? std::min(1.0, clip_norm / (std::sqrt(sq[r]) + 1e-6)) : 1.0;
}

void CpuBackend::adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_values,
                             const Tensor& grad_scale, const AdamStep& s) {
  const int64_t R = param.dim(0), block = param.numel() / R;
  const double* values = step_values.data<double>();
  const double* scales = grad_scale.data<double>();
  dispatch_float(param.dtype(), [&]<typename T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m1 = m.data<T>();
    T* m2 = v.data<T>();
    cpu::parallel_chunks(R * block, 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t r = i / block;
        const double lr = values[3 * r + kLearningRate];
        const T step_size = static_cast<T>(lr / values[3 * r + kBias1]);
        const T bias2_sqrt = static_cast<T>(values[3 * r + kBias2Sqrt]);
        T gi = g[i] * static_cast<T>(scales[r]);
        if (s.decoupled) p[i] *= static_cast<T>(1.0 - lr * s.weight_decay);
        else gi += static_cast<T>(s.weight_decay) * p[i];
        m1[i] = static_cast<T>(s.beta1) * m1[i] + static_cast<T>(1.0 - s.beta1) * gi;
        m2[i] = static_cast<T>(s.beta2) * m2[i] + static_cast<T>(1.0 - s.beta2) * gi * gi;
        const T denom = std::sqrt(m2[i]) / bias2_sqrt + static_cast<T>(s.eps);
        p[i] -= step_size * m1[i] / denom;
      }
    });
  });
}

void CpuBackend::sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const Tensor& step_values,
                            const Tensor& grad_scale, const SgdStep& s) {
  const int64_t R = param.dim(0), block = param.numel() / R;
  const double* values = step_values.data<double>();
  const double* scales = grad_scale.data<double>();
  dispatch_float(param.dtype(), [&]<typename T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* buf = momentum.data<T>();
    cpu::parallel_chunks(R * block, 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t r = i / block;
        T gi = g[i] * static_cast<T>(scales[r]) + static_cast<T>(s.weight_decay) * p[i];
        if (s.momentum != 0.0) {
          // The buffer starts at zero, so the first step stores exactly g, as PyTorch does.
          buf[i] = static_cast<T>(s.momentum) * buf[i] + gi;
          gi = buf[i];
        }
        p[i] -= static_cast<T>(values[3 * r + kLearningRate]) * gi;
      }
    });
  });
}

}  // namespace mechlab
