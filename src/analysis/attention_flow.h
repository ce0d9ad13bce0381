// Attention rollout and attention flow (Abnar & Zuidema 2020): how much of each position after the last
// layer comes from each input position, from the attention patterns alone. Both use the residual-augmented
// head mean A'_l = 0.5 mean_h A_l + 0.5 I (rows renormalised), which models the skip connection.
#pragma once
#include <vector>

#include "tensor/tensor.h"

namespace mechlab {

// patterns: one per layer, (H, T, T) f32 or f64, row = query, causal rows summing to 1 (a query that sees
// nothing, as position 0 with attention_excludes_self, has a zero row and keeps only the identity).

// -> host f64 (L, T, T): rollout_0 = A'_0, rollout_l = A'_l rollout_{l-1}; [l, i, j] = the share of position
// i after layer l that comes from input position j. Rows sum to 1.
Tensor attention_rollout(const std::vector<Tensor>& patterns);

// -> host f64 (T, T): [i, j] = max-flow from input position j to position i after the last layer, in the
// layered graph with edges (l-1, j) -> (l, i) of capacity A'_l[i, j]; 0 above the diagonal. Each entry is
// at least rollout[L-1, i, j] (the rollout is a feasible flow) and at most 1, so rows sum to 1 or more.
Tensor attention_flow(const std::vector<Tensor>& patterns);

}  // namespace mechlab
