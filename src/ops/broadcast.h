// NumPy broadcasting rules shared by the elementwise and reduction ops.
#pragma once
#include "backend/backend.h"

namespace mechlab {

// The broadcast shape of a and b, or an error naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// A view that reads x (contiguous, shape x_shape) as if it had shape `out` (stride 0 on broadcast axes).
StridedView broadcast_view(const Shape& x_shape, const Shape& out);
// Throws unless the tensors share dtype and device.
void check_same_kind(const Tensor& a, const Tensor& b, const char* op);

}  // namespace mechlab
