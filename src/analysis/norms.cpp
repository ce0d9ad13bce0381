#include "analysis/norms.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "ops/ops.h"

namespace mechlab {

Tensor last_axis_norms(const Tensor& x) {
  NoGradGuard no_grad;
  Tensor squares = sum(square(x), {-1}).to(Device::cpu).to(DType::f32);
  float* p = squares.data<float>();
  for (int64_t i = 0; i < squares.numel(); ++i) p[i] = std::sqrt(p[i]);
  return squares;
}

Tensor head_value_norms(const Tensor& v, const Tensor& W_O) {
  NoGradGuard no_grad;
  const int64_t R = v.dim(0), B = v.dim(1), T = v.dim(2), H = v.dim(3), E = v.dim(4);
  Tensor per_head = reshape(permute(v, {0, 3, 1, 2, 4}), {R, H, B * T, E});  // (R, H, B*T, E)
  Tensor written = matmul(per_head, W_O);                                    // (R, H, B*T, D)
  Tensor norms = last_axis_norms(written);                                   // (R, H, B*T)
  return permute(reshape(norms, {R, H, B, T}), {0, 2, 1, 3});
}

}  // namespace mechlab
