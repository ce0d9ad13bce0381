// LayerNorm over the last axis with an optional affine, one kernel each way; the affine parameters'
// gradients are row sums of dout * xhat and of dout.
#include <stdexcept>

#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
// Accepts (D) or (x.dim(0), 1, ..., 1, D): the layouts the backend's grouped affine reads.
void check_affine_shape(const Tensor& param, const Tensor& x, const char* what) {
  if (!param.defined()) return;
  const Shape& s = param.shape();
  const int64_t D = x.dim(-1);
  bool ok = s.size() == 1 && s[0] == D;
  if (!ok && param.ndim() == x.ndim() && s.back() == D && (s[0] == 1 || s[0] == x.dim(0))) {
    ok = true;
    for (size_t i = 1; i + 1 < s.size(); ++i) ok = ok && s[i] == 1;
  }
  if (!ok || param.dtype() != x.dtype() || param.device() != x.device())
    throw std::invalid_argument(std::string("layer_norm: ") + what + " must be (D) or (R, 1, ..., 1, D) for x " +
                                to_string(x.shape()) + " of the same dtype and device, got " + to_string(s));
}
}  // namespace

Tensor layer_norm(const Tensor& x, double eps) { return layer_norm(x, Tensor(), Tensor(), eps); }

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_affine_shape(weight, x, "weight");
  check_affine_shape(bias, x, "bias");
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor stats = Tensor::empty({x.numel() / x.dim(-1), 2}, x.dtype(), x.device());
  backend_for(x.device()).layer_norm(x, weight, bias, eps, out, stats);
  return record(out, "layer_norm", {x, weight, bias}, [x, weight, bias, stats](const Tensor& dout) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    const bool weight_grad = weight.defined() && weight.requires_grad();
    Tensor dout_xhat = weight_grad ? Tensor::empty(x.shape(), x.dtype(), x.device()) : Tensor();
    backend_for(x.device()).layer_norm_backward(x, stats, weight, dout, dx, dout_xhat);
    Tensor dweight = weight_grad ? sum_to_shape(dout_xhat, weight.shape()) : Tensor();
    Tensor dbias = bias.defined() && bias.requires_grad() ? sum_to_shape(dout, bias.shape()) : Tensor();
    return {dx, dweight, dbias};
  });
}

}  // namespace mechlab
