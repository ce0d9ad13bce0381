// Norms researchers track across positions: the residual stream ||h|| and each head's output-projected
// value state ||W_O v|| (small at a sink position: the "value-state drain").
#pragma once
#include "tensor/tensor.h"

namespace mechlab {

// ||x|| over the last axis: (..., D) -> (...), f32.
Tensor last_axis_norms(const Tensor& x);
// v (R, B, T, H, E) from hook_v and W_O (R, H, E, D) -> ||v[r, b, t, h] @ W_O[r, h]|| as (R, B, H, T), f32.
Tensor head_value_norms(const Tensor& v, const Tensor& W_O);

}  // namespace mechlab
