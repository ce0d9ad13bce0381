// reshape, permute, transpose, slice, concat: ops that move elements without arithmetic.
#include <numeric>
#include <stdexcept>

#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

Tensor reshape(const Tensor& x, const Shape& requested) {
  Shape shape = requested;
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) throw std::invalid_argument("reshape: more than one -1 in " + to_string(requested));
      inferred = static_cast<int>(i);
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) shape[inferred] = known ? x.numel() / known : 0;
  if (numel(shape) != x.numel())
    throw std::invalid_argument("reshape: cannot reshape " + to_string(x.shape()) + " to " + to_string(requested));
  if (shape == x.shape()) return x;
  return record(x.view(shape), "reshape", {x}, [x_shape = x.shape()](const Tensor& dout) -> std::vector<Tensor> {
    return {reshape(dout, x_shape)};
  });
}

namespace {
// Whether permuting `shape` by `order` leaves the elements in memory order: the axes longer than one stay in
// their order (axes of length one can move anywhere). Then the permuted tensor is a view, not a copy.
bool keeps_memory_order(const Shape& shape, const std::vector<int>& order) {
  int last = -1;
  for (int axis : order) {
    axis = normalize_axis(axis, static_cast<int>(shape.size()));
    if (shape[axis] == 1) continue;
    if (axis < last) return false;
    last = axis;
  }
  return true;
}
}  // namespace

Tensor permute(const Tensor& x, const std::vector<int>& order) {
  if (static_cast<int>(order.size()) != x.ndim())
    throw std::invalid_argument("permute: order has " + std::to_string(order.size()) + " axes for a tensor of " +
                                std::to_string(x.ndim()));
  std::vector<int> inverse(order.size(), -1);
  std::vector<int64_t> x_strides = contiguous_strides(x.shape());
  StridedView view_x;
  for (size_t i = 0; i < order.size(); ++i) {
    int axis = normalize_axis(order[i], x.ndim());
    if (inverse[axis] >= 0) throw std::invalid_argument("permute: axis repeated in order");
    inverse[axis] = static_cast<int>(i);
    view_x.shape.push_back(x.shape()[axis]);
    view_x.strides.push_back(x_strides[axis]);
  }
  if (keeps_memory_order(x.shape(), order)) return reshape(x, view_x.shape);  // e.g. heads first with one head
  Tensor out = Tensor::empty(view_x.shape, x.dtype(), x.device());
  backend_for(x.device()).strided_copy(x, view_x, out, StridedView::contiguous(view_x.shape), false);
  return record(out, "permute", {x}, [inverse](const Tensor& dout) -> std::vector<Tensor> {
    return {permute(dout, inverse)};
  });
}

Tensor transpose(const Tensor& x, int axis_a, int axis_b) {
  std::vector<int> order(x.ndim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[normalize_axis(axis_a, x.ndim())], order[normalize_axis(axis_b, x.ndim())]);
  return permute(x, order);
}

namespace {
// The window [start, stop) along `axis` of a contiguous tensor of shape `shape`.
StridedView window(const Shape& shape, int axis, int64_t start, int64_t stop) {
  StridedView view{shape, contiguous_strides(shape), 0};
  view.offset = start * view.strides[axis];
  view.shape[axis] = stop - start;
  return view;
}
}  // namespace

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t stop) {
  axis = normalize_axis(axis, x.ndim());
  if (start < 0 || stop > x.shape()[axis] || start > stop)
    throw std::invalid_argument("slice: [" + std::to_string(start) + ", " + std::to_string(stop) + ") outside axis " +
                                std::to_string(axis) + " of " + to_string(x.shape()));
  StridedView view_x = window(x.shape(), axis, start, stop);
  Tensor out = Tensor::empty(view_x.shape, x.dtype(), x.device());
  backend_for(x.device()).strided_copy(x, view_x, out, StridedView::contiguous(view_x.shape), false);
  return record(out, "slice", {x}, [x_shape = x.shape(), view_x](const Tensor& dout) -> std::vector<Tensor> {
    Tensor dx = Tensor::zeros(x_shape, dout.dtype(), dout.device());
    backend_for(dout.device()).strided_copy(dout, StridedView::contiguous(dout.shape()), dx, view_x, false);
    return {dx};
  });
}

Tensor repeat(const Tensor& x, int axis, int64_t copies) {
  if (copies == 1) return x;
  axis = normalize_axis(axis, x.ndim());
  Shape single = x.shape(), repeated = x.shape();
  single.insert(single.begin() + axis, 1);  // (..., 1, n, ...) broadcast to (..., copies, n, ...)
  Shape copied = single;
  copied[axis] = copies;
  repeated[axis] *= copies;
  return reshape(broadcast_to(reshape(x, single), copied), repeated);
}

Tensor concat(const std::vector<Tensor>& xs, int axis) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors");
  axis = normalize_axis(axis, xs[0].ndim());
  Shape shape = xs[0].shape();
  shape[axis] = 0;
  for (const Tensor& x : xs) {
    Shape expected = shape;
    expected[axis] = x.shape()[axis];
    if (x.shape() != expected || x.dtype() != xs[0].dtype())
      throw std::invalid_argument("concat: " + to_string(x.shape()) + " does not match " + to_string(xs[0].shape()) +
                                  " outside axis " + std::to_string(axis));
    shape[axis] += x.shape()[axis];
  }
  Tensor out = Tensor::empty(shape, xs[0].dtype(), xs[0].device());
  std::vector<int64_t> starts;
  int64_t start = 0;
  for (const Tensor& x : xs) {
    starts.push_back(start);
    backend_for(x.device()).strided_copy(x, StridedView::contiguous(x.shape()), out,
                                         window(shape, axis, start, start + x.shape()[axis]), false);
    start += x.shape()[axis];
  }
  return record(out, "concat", xs, [xs, starts, axis](const Tensor& dout) -> std::vector<Tensor> {
    std::vector<Tensor> dxs;
    for (size_t i = 0; i < xs.size(); ++i)
      dxs.push_back(xs[i].requires_grad() ? slice(dout, axis, starts[i], starts[i] + xs[i].shape()[axis]) : Tensor());
    return dxs;
  });
}

}  // namespace mechlab
