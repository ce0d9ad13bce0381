// sum and mean over axes, and the broadcast pair sum_to_shape / broadcast_to.
#include <algorithm>
#include <stdexcept>

#include "autograd/node.h"
#include "ops/broadcast.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
// Sums axes [first, last] (adjacent) keeping them as extent 1.
Tensor sum_adjacent_axes(const Tensor& x, int first, int last) {
  const Shape& s = x.shape();
  int64_t outer = 1, mid = 1, inner = 1;
  for (int i = 0; i < first; ++i) outer *= s[i];
  for (int i = first; i <= last; ++i) mid *= s[i];
  for (int i = last + 1; i < x.ndim(); ++i) inner *= s[i];
  Shape out_shape = s;
  for (int i = first; i <= last; ++i) out_shape[i] = 1;
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  backend_for(x.device()).sum_mid(x, outer, mid, inner, out);
  return out;
}

std::vector<int> normalized_axes(std::vector<int> axes, int ndim) {
  for (int& axis : axes) axis = normalize_axis(axis, ndim);
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
    throw std::invalid_argument("sum: repeated axis");
  return axes;
}
}  // namespace

Tensor sum(const Tensor& x, std::vector<int> axes, bool keepdim) {
  axes = normalized_axes(std::move(axes), x.ndim());
  Tensor kept = x.detach();
  // Runs of adjacent axes reduce in one pass; runs go last to first so earlier indices stay valid.
  for (size_t end = axes.size(); end > 0;) {
    size_t begin = end - 1;
    while (begin > 0 && axes[begin - 1] == axes[begin] - 1) --begin;
    kept = sum_adjacent_axes(kept, axes[begin], axes[end - 1]);
    end = begin;
  }
  Shape out_shape;
  for (int i = 0; i < x.ndim(); ++i)
    if (keepdim || !std::binary_search(axes.begin(), axes.end(), i)) out_shape.push_back(kept.shape()[i]);
  Tensor out = kept.view(out_shape);
  return record(out, "sum", {x}, [x_shape = x.shape(), kept_shape = kept.shape()](const Tensor& dout) -> std::vector<Tensor> {
    return {broadcast_to(reshape(dout, kept_shape), x_shape)};
  });
}

Tensor mean(const Tensor& x, std::vector<int> axes, bool keepdim) {
  int64_t count = 1;
  for (int axis : axes) count *= x.dim(axis);
  return scale(sum(x, std::move(axes), keepdim), 1.0 / static_cast<double>(count));
}

Tensor sum_to_shape(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Shape target = broadcast_shapes(x.shape(), shape, "sum_to_shape");
  if (target != x.shape())
    throw std::invalid_argument("sum_to_shape: " + to_string(x.shape()) + " is not a broadcast of " + to_string(shape));
  size_t lead = x.shape().size() - shape.size();
  std::vector<int> axes;
  for (size_t i = 0; i < x.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) axes.push_back(static_cast<int>(i));
  return reshape(sum(x, axes, true), shape);
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (broadcast_shapes(x.shape(), shape, "broadcast_to") != shape)
    throw std::invalid_argument("broadcast_to: cannot broadcast " + to_string(x.shape()) + " to " + to_string(shape));
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  backend_for(x.device()).strided_copy(x, broadcast_view(x.shape(), shape), out, StridedView::contiguous(shape), false);
  return record(out, "broadcast_to", {x}, [x_shape = x.shape()](const Tensor& dout) -> std::vector<Tensor> {
    return {sum_to_shape(dout, x_shape)};
  });
}

}  // namespace mechlab
