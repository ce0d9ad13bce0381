// Moving one replica's slice of a (R, ...) tensor out and back in: how per-replica checkpoints and
// dumps are written from, and loaded into, a packed model.
#pragma once
#include "tensor/tensor.h"

namespace mechlab {

// A copy of x[r] (shape x.shape()[1:]).
Tensor replica_slice(const Tensor& x, int64_t r);
// x[r] = value in place; value has shape x.shape()[1:] (any dtype, converted).
void set_replica_slice(Tensor& x, int64_t r, const Tensor& value);

}  // namespace mechlab
