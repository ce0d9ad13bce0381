#include "analysis/norms.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/ops.h"

namespace mechlab {

Tensor last_axis_squared_norms(const Tensor& x) {
  NoGradGuard no_grad;
  return sum(square(x), {-1});
}

Tensor head_value_squared_norms(const Tensor& v, const Tensor& W_O) {
  NoGradGuard no_grad;
  const int64_t R = v.dim(0), B = v.dim(1), T = v.dim(2), H = v.dim(3), E = v.dim(4);
  Tensor per_head = reshape(permute(v, {0, 3, 1, 2, 4}), {R, H, B * T, E});  // (R, H, B*T, E)
  Tensor written = matmul(per_head, W_O);                                    // (R, H, B*T, D)
  return permute(reshape(last_axis_squared_norms(written), {R, H, B, T}), {0, 2, 1, 3});
}

Tensor sqrt_on_host(const Tensor& squares) {
  Tensor host = squares.to(Device::cpu).to(DType::f32).clone();
  float* p = host.data<float>();
  for (int64_t i = 0; i < host.numel(); ++i) p[i] = std::sqrt(p[i]);
  return host;
}

Tensor last_axis_norms(const Tensor& x) { return sqrt_on_host(last_axis_squared_norms(x)); }
Tensor head_value_norms(const Tensor& v, const Tensor& W_O) { return sqrt_on_host(head_value_squared_norms(v, W_O)); }

}  // namespace mechlab
