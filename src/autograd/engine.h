// Reverse-mode sweep over the tape.
#pragma once
#include "tensor/tensor.h"

namespace mechlab {

// Sends d(loss)/d(loss) = 1 back through the tape; leaves that require grad accumulate into grad().
void run_backward(const Tensor& loss);

}  // namespace mechlab
