// activation(x) @ w without keeping activation(x) for the backward: the MLP's hidden layer after its
// activation is recomputed from x there (one elementwise pass), so a training step holds one (B*T, d_mlp)
// tensor per layer instead of two. The arithmetic is that of relu/gelu followed by matmul, bit for bit.
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
Tensor activated(UnaryOp op, const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).unary(op, x, out, 0.0);
  return out;
}
}  // namespace

Tensor activation_matmul(const Tensor& x, const Tensor& w, UnaryOp activation) {
  if (activation != UnaryOp::relu && activation != UnaryOp::gelu)
    throw std::invalid_argument("activation_matmul: the activation must be relu or gelu");
  Tensor out;
  {
    NoGradGuard no_grad;  // the product's own node would keep activation(x) alive
    out = matmul(activated(activation, x), w);
  }
  // The weight's gradient first, so that the recomputed activation is gone before d activation exists.
  return record(out, "activation_matmul", {x, w}, [x, w, activation](const Tensor& dout) -> std::vector<Tensor> {
    const Tensor dw = w.requires_grad() ? matmul(activated(activation, x), dout, true, false) : Tensor();
    Tensor dx;
    if (x.requires_grad()) {  // d activation, turned into dx in place (the backward is elementwise)
      dx = matmul(dout, w, false, true);
      backend_for(x.device()).unary_backward(activation, x, dx, dx, 0.0);
    }
    return {dx, dw};
  });
}

}  // namespace mechlab
