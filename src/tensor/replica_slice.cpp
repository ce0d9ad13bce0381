#include "tensor/replica_slice.h"

#include <stdexcept>

#include "backend/backend.h"

namespace mechlab {

namespace {
StridedView replica_view(const Tensor& x, int64_t r) {
  if (x.ndim() < 1 || r < 0 || r >= x.dim(0))
    throw std::out_of_range("replica " + std::to_string(r) + " outside tensor of shape " + to_string(x.shape()));
  Shape inner(x.shape().begin() + 1, x.shape().end());
  StridedView view = StridedView::contiguous(inner);
  view.offset = r * numel(inner);
  return view;
}
}  // namespace

Tensor replica_slice(const Tensor& x, int64_t r) {
  StridedView view = replica_view(x, r);
  Tensor out = Tensor::empty(view.shape, x.dtype(), x.device());
  backend_for(x.device()).strided_copy(x, view, out, StridedView::contiguous(view.shape), false);
  return out;
}

void set_replica_slice(Tensor& x, int64_t r, const Tensor& value) {
  StridedView view = replica_view(x, r);
  if (value.shape() != view.shape)
    throw std::invalid_argument("replica slice of shape " + to_string(view.shape) + " cannot take a value of shape " +
                                to_string(value.shape()));
  Tensor converted = value.to(x.device()).to(x.dtype());
  backend_for(x.device()).strided_copy(converted, StridedView::contiguous(view.shape), x, view, false);
}

}  // namespace mechlab
