// Optimizer updates, elementwise per replica block, one parameter after another. Per-step values
// (learning rate, bias corrections) come from the step-values tensor; scalars are formed in double as
// PyTorch does.
#include <algorithm>
#include <cmath>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

namespace {
template <typename T>
void adam_one(const OptimizerSlot& slot, const double* values, const double* scales, const AdamStep& s) {
  const int64_t R = slot.param.dim(0), block = slot.param.numel() / R;
  T* p = const_cast<Tensor&>(slot.param).data<T>();
  const T* g = slot.grad.data<T>();
  T* m1 = const_cast<Tensor&>(slot.first_moment).data<T>();
  T* m2 = const_cast<Tensor&>(slot.second_moment).data<T>();
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
}

template <typename T>
void sgd_one(const OptimizerSlot& slot, const double* values, const double* scales, const SgdStep& s) {
  const int64_t R = slot.param.dim(0), block = slot.param.numel() / R;
  T* p = const_cast<Tensor&>(slot.param).data<T>();
  const T* g = slot.grad.data<T>();
  T* buf = const_cast<Tensor&>(slot.first_moment).data<T>();
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
}
}  // namespace

void CpuBackend::clip_scales(const Tensor& squares, double clip_norm, Tensor& scales) {
  const double* sq = squares.data<double>();
  double* out = scales.data<double>();
  for (int64_t r = 0; r < squares.numel(); ++r)
    out[r] = clip_norm > 0 ? std::min(1.0, clip_norm / (std::sqrt(sq[r]) + 1e-6)) : 1.0;
}

void CpuBackend::adam_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values,
                             const Tensor& grad_scale, const AdamStep& step) {
  for (const OptimizerSlot& slot : slots)
    dispatch_float(slot.param.dtype(), [&]<typename T>() {
      adam_one<T>(slot, step_values.data<double>(), grad_scale.data<double>(), step);
    });
}

void CpuBackend::sgd_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values,
                            const Tensor& grad_scale, const SgdStep& step) {
  for (const OptimizerSlot& slot : slots)
    dispatch_float(slot.param.dtype(), [&]<typename T>() {
      sgd_one<T>(slot, step_values.data<double>(), grad_scale.data<double>(), step);
    });
}

}  // namespace mechlab
