// Norms researchers track across positions: the residual stream ||h|| and each head's output-projected
// value state ||W_O v|| (small at a sink position: the "value-state drain"). The squared forms are ops
// alone (recordable in a CUDA graph); the plain forms take the square root on the host.
#pragma once
#include "tensor/tensor.h"

namespace mechlab {

// ||x||^2 over the last axis: (..., D) -> (...), on x's device.
Tensor last_axis_squared_norms(const Tensor& x);
// v (R, B, T, H, E) from hook_v and W_O (R, H, E, D) -> ||v[r, b, t, h] @ W_O[r, h]||^2 as (R, B, H, T).
Tensor head_value_squared_norms(const Tensor& v, const Tensor& W_O);

// Element-wise square root into a host f32 tensor.
Tensor sqrt_on_host(const Tensor& squares);
// ||x|| over the last axis, and ||W_O v|| per head, as host f32 tensors.
Tensor last_axis_norms(const Tensor& x);
Tensor head_value_norms(const Tensor& v, const Tensor& W_O);

}  // namespace mechlab
