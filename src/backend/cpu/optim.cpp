// Optimizer updates, elementwise per replica block. Scalars are formed in double as PyTorch does.
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

void CpuBackend::adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& lr,
                             const Tensor& grad_scale, const AdamStep& s) {
  const int64_t R = param.dim(0), block = param.numel() / R;
  const double* lrs = lr.data<double>();
  const double* scales = grad_scale.data<double>();
  const double bias1 = 1.0 - std::pow(s.beta1, static_cast<double>(s.step));
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(s.beta2, static_cast<double>(s.step)));
  dispatch_float(param.dtype(), [&]<typename T>() {
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m1 = m.data<T>();
    T* m2 = v.data<T>();
    cpu::parallel_chunks(R * block, 1 << 14, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const int64_t r = i / block;
        const T step_size = static_cast<T>(lrs[r] / bias1);
        T gi = g[i] * static_cast<T>(scales[r]);
        if (s.decoupled) p[i] *= static_cast<T>(1.0 - lrs[r] * s.weight_decay);
        else gi += static_cast<T>(s.weight_decay) * p[i];
        m1[i] = static_cast<T>(s.beta1) * m1[i] + static_cast<T>(1.0 - s.beta1) * gi;
        m2[i] = static_cast<T>(s.beta2) * m2[i] + static_cast<T>(1.0 - s.beta2) * gi * gi;
        const T denom = std::sqrt(m2[i]) / static_cast<T>(bias2_sqrt) + static_cast<T>(s.eps);
        p[i] -= step_size * m1[i] / denom;
      }
    });
  });
}

void CpuBackend::sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const Tensor& lr,
                            const Tensor& grad_scale, const SgdStep& s) {
  const int64_t R = param.dim(0), block = param.numel() / R;
  const double* lrs = lr.data<double>();
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
        p[i] -= static_cast<T>(lrs[r]) * gi;
      }
    });
  });
}

}  // namespace mechlab
