// add, sub, mul, div with broadcasting; scale, relu, gelu, square.
#include "autograd/node.h"
#include "ops/broadcast.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
Tensor binary_forward(BinaryOp op, const Tensor& a, const Tensor& b, const char* name) {
  check_same_kind(a, b, name);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  backend_for(a.device()).binary(op, a, broadcast_view(a.shape(), shape), b, broadcast_view(b.shape(), shape), out);
  return out;
}

Tensor unary_forward(UnaryOp op, const Tensor& x, double scalar, const char* name) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_for(x.device()).unary(op, x, out, scalar);
  return record(out, name, {x}, [x, op, scalar](const Tensor& dout) -> std::vector<Tensor> {
    Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
    backend_for(x.device()).unary_backward(op, x, dout, dx, scalar);
    return {dx};
  });
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return record(binary_forward(BinaryOp::add, a, b, "add"), "add", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& dout) -> std::vector<Tensor> {
                  return {sum_to_shape(dout, sa), sum_to_shape(dout, sb)};
                });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return record(binary_forward(BinaryOp::sub, a, b, "sub"), "sub", {a, b},
                [sa = a.shape(), sb = b.shape()](const Tensor& dout) -> std::vector<Tensor> {
                  return {sum_to_shape(dout, sa), scale(sum_to_shape(dout, sb), -1.0)};
                });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return record(binary_forward(BinaryOp::mul, a, b, "mul"), "mul", {a, b},
                [a, b](const Tensor& dout) -> std::vector<Tensor> {
                  return {a.requires_grad() ? sum_to_shape(mul(dout, b), a.shape()) : Tensor(),
                          b.requires_grad() ? sum_to_shape(mul(dout, a), b.shape()) : Tensor()};
                });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary_forward(BinaryOp::div, a, b, "div");
  return record(out, "div", {a, b}, [a, b, out = out.detach()](const Tensor& dout) -> std::vector<Tensor> {
    Tensor da = div(dout, b);
    return {a.requires_grad() ? sum_to_shape(da, a.shape()) : Tensor(),
            b.requires_grad() ? sum_to_shape(scale(mul(da, out), -1.0), b.shape()) : Tensor()};
  });
}

Tensor scale(const Tensor& x, double factor) { return unary_forward(UnaryOp::scale, x, factor, "scale"); }
Tensor relu(const Tensor& x) { return unary_forward(UnaryOp::relu, x, 0.0, "relu"); }
Tensor gelu(const Tensor& x) { return unary_forward(UnaryOp::gelu, x, 0.0, "gelu"); }
Tensor square(const Tensor& x) { return unary_forward(UnaryOp::square, x, 0.0, "square"); }

}  // namespace mechlab
