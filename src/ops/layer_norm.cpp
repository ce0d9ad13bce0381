// LayerNorm over the last axis, with or without an elementwise weight and bias.
#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

Tensor layer_norm(const Tensor& x, double eps) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor stats = Tensor::empty({x.numel() / x.dim(-1), 2}, x.dtype(), x.device());
  backend_for(x.device()).layer_norm(x, eps, out, stats);
  return record(out, "layer_norm", {x}, [x, stats](const Tensor& dout) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    backend_for(x.device()).layer_norm_backward(x, stats, dout, dx);
    return {dx};
  });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  Tensor y = layer_norm(x, eps);
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);
  return y;
}

}  // namespace mechlab
