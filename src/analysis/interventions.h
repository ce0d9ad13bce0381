// Named zero ablations for evaluation-time metrics (a task's "loss.zero_head.L0H1"): each installs one
// replacement on a fresh hook set. They are built from fills, concats and products only, so an evaluation that
// runs them can be recorded once as a CUDA graph; the analyses of a spec (ablation.cpp) batch many patches
// into one pass instead. Hook shapes: hook_z and hook_v (R, B, T, H, E), hook_mlp_out and hook_resid_* (R, B, T, D).
#pragma once
#include <functional>
#include <string>

#include "nn/hook_points.h"

namespace mechlab {

struct Intervention {
  std::string label;  // e.g. "zero_head.L0H0", "zero_heads.L0", "zero_mlp.L1"
  std::function<void(ActivationHooks&)> install;  // registers the replacement on a fresh hook set
};

// Head h of layer l's output (its slice of hook_z) set to zero.
Intervention zero_head(int layer, int head);
// Every head of layer l (a copy split over several heads survives zeroing any one of them).
Intervention zero_heads(int layer);
// Layer l's MLP output.
Intervention zero_mlp(int layer);
// `hook` set to zero at one index of one axis (position 2 for "the BOS position", with hook shapes as above).
Intervention zero_at_index(std::string label, std::string hook, int axis, int64_t index);

}  // namespace mechlab
