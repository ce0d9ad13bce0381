// Optimizer updates, elementwise; per-step values (learning rate, bias corrections) and clipping factors
// are read from device memory so a captured step replays with the current ones.
#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"

namespace mechlab {

using namespace cuda;

namespace {
template <typename T>
__global__ void adam_kernel(T* p, const T* g, T* m1, T* m2, const double* values, const double* scales, int64_t block,
                            int64_t n, AdamStep s) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t r = i / block;
  const double lr = values[3 * r + kLearningRate];
  const T step_size = static_cast<T>(lr / values[3 * r + kBias1]);
  const T bias2_sqrt = static_cast<T>(values[3 * r + kBias2Sqrt]);
  T gi = g[i] * static_cast<T>(scales[r]);
  T pi = p[i];
  if (s.decoupled) pi *= static_cast<T>(1.0 - lr * s.weight_decay);
  else gi += static_cast<T>(s.weight_decay) * pi;
  const T m = static_cast<T>(s.beta1) * m1[i] + static_cast<T>(1.0 - s.beta1) * gi;
  const T v = static_cast<T>(s.beta2) * m2[i] + static_cast<T>(1.0 - s.beta2) * gi * gi;
  m1[i] = m;
  m2[i] = v;
  p[i] = pi - step_size * m / (sqrt(v) / bias2_sqrt + static_cast<T>(s.eps));
}

template <typename T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, const double* values, const double* scales, int64_t block, int64_t n,
                           SgdStep s) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i >= n) return;
  const int64_t r = i / block;
  T gi = g[i] * static_cast<T>(scales[r]) + static_cast<T>(s.weight_decay) * p[i];
  if (s.momentum != 0.0) {
    buf[i] = static_cast<T>(s.momentum) * buf[i] + gi;
    gi = buf[i];
  }
  p[i] -= static_cast<T>(values[3 * r + kLearningRate]) * gi;
}
}  // namespace

void CudaBackend::adam_update(Tensor& param, const Tensor& grad, Tensor& m, Tensor& v, const Tensor& step_values,
                              const Tensor& grad_scale, const AdamStep& step) {
  const int64_t n = param.numel(), block = n / param.dim(0);
  dispatch_float(param.dtype(), [&]<typename T>() {
    adam_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(param.data<T>(), grad.data<T>(), m.data<T>(), v.data<T>(),
                                                        step_values.data<double>(), grad_scale.data<double>(), block, n, step);
  });
  check_launch("adam_update");
}

void CudaBackend::sgd_update(Tensor& param, const Tensor& grad, Tensor& momentum, const Tensor& step_values,
                             const Tensor& grad_scale, const SgdStep& step) {
  const int64_t n = param.numel(), block = n / param.dim(0);
  dispatch_float(param.dtype(), [&]<typename T>() {
    sgd_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(param.data<T>(), grad.data<T>(), momentum.data<T>(),
                                                       step_values.data<double>(), grad_scale.data<double>(), block, n, step);
  });
  check_launch("sgd_update");
}

}  // namespace mechlab
