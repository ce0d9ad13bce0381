// activation(x) @ w without keeping activation(x) for the backward: the MLP's hidden layer after its
// activation is recomputed from x there (one elementwise pass), so a training step holds one (B*T, d_mlp)
// tensor per layer instead of two. The arithmetic is that of relu/gelu followed by matmul, bit for bit.
#include <stdexcept>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

Tensor activation_matmul(const Tensor& x, const Tensor& w, UnaryOp activation) {
  if (activation != UnaryOp::relu && activation != UnaryOp::gelu)
    throw std::invalid_argument("activation_matmul: the activation must be relu or gelu");
  auto activated = [activation](const Tensor& t) { return activation == UnaryOp::relu ? relu(t) : gelu(t); };
  Tensor out;
  {
    NoGradGuard no_grad;  // neither the activation's node nor the product's may keep activation(x) alive
    out = matmul(activated(x), w);
  }
  // The weight's gradient first, so that the recomputed activation is gone before d activation exists.
  return record(out, "activation_matmul", {x, w}, [x, w, activation, activated](const Tensor& dout) -> std::vector<Tensor> {
    const Tensor dw = w.requires_grad() ? matmul(activated(x), dout, true, false) : Tensor();
    Tensor dx;
    if (x.requires_grad()) {  // d activation, turned into dx in place (the backward is elementwise)
      dx = matmul(dout, w, false, true);
      backend_for(x.device()).unary_backward(activation, x, dx, dx, 0.0);
    }
    return {dx, dw};
  });
}

}  // namespace mechlab
