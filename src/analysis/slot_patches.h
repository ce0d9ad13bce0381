// Many patched forward passes as one: S copies ("slots") of a batch of B examples side by side along the
// batch axis (R, S*B, ...), each slot with its own replacements. At a hook, slot s's activation becomes
//   x * keep + sum_i source_i * mask_i      (masks 0/1 and disjoint, keep = 1 - their sum)
// so it is bitwise x where no mask is set and bitwise source_i where mask_i is, whatever the other slots do.
// Every analysis that patches (ablation, activation, path and subspace patching) is a list of slots.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nn/hook_points.h"
#include "nn/transformer_config.h"
#include "task/task.h"

namespace mechlab {

// Which entries of an activation a slot takes from a source: positions (per example, e = r * B + b) and heads.
struct Where {
  std::function<bool(int64_t example, int64_t position)> position;  // unset: every position
  bool per_example = false;  // whether `position` depends on the example (else its masks are shared by all)
  std::vector<int> heads;    // empty: every head (hooks with heads)
};

// Where the position and head axes sit in a hook's activation (R, B, ...): resid-like (R, B, T, W),
// per-head (R, B, T, H, E), patterns (R, B, H, T, T) (the position is the query's). Throws
// std::invalid_argument for a hook without a batch axis (hook_pos_embed).
struct HookGeometry {
  int rank = 0;           // dims after (R, B)
  int position_axis = 0;  // among them
  int head_axis = -1;     // among them, -1 without heads
};
HookGeometry hook_geometry(const std::string& hook);

class SlotPatches {
 public:
  SlotPatches(const TransformerConfig& config, int64_t replicas, int64_t slots, int64_t batch, int64_t positions);

  // A source for `hook`: (R, B, ...), the same in every slot, or (R, S*B, ...), its own per slot. Returns its id.
  int add_source(const std::string& hook, Tensor source);
  // The id of `source` at `hook`, added on first use: slots that take the same values share one source.
  int source(const std::string& hook, const Tensor& values);
  // In `slot`, the entries of `hook` that `where` selects come from source `source_id`.
  void take(int64_t slot, int source_id, const Where& where);

  // Registers the replacements on `hooks`, for a forward pass of the tiled batch that computes positions
  // first_position .. stop_position - 1 only (Transformer::forward's window; -1: to the end): sources and
  // masks are cut to those positions.
  void install(ActivationHooks& hooks, int64_t first_position = 0, int64_t stop_position = -1) const;
  int64_t slots() const { return slots_; }

  // What no slot patches, so a forward pass can take it from the base run: the layers before the first
  // patched one (0 when a hook outside the blocks is patched) and the positions before the first patched
  // one (the model is causal, so a patch reaches no earlier position).
  int first_patched_layer() const;
  int64_t first_patched_position() const;
  int64_t last_patched_position() const;
  // Whether every patch at `layer` is at its hook_z or after it, where a patch changes its own position only.
  bool patches_after_attention(int layer) const;
  // Whether every patch lies in one layer; whether every one lies in a block before `layer`.
  bool patches_in_one_layer() const;
  bool patches_before(int layer) const;

 private:
  struct Source {
    std::string hook;
    Tensor values;
    int64_t mask_batch = 1;    // 1 while every example of a slot takes the same entries, else B
    std::vector<double> mask;  // (R, S, mask_batch, mask dims), 1 where a slot takes this source
  };
  std::vector<int64_t> mask_dims(const std::string& hook) const;
  int64_t per_example_size(const std::string& hook) const;
  static void expand_to_batch(Source& source, int64_t batch, int64_t per_example);

  int64_t replicas_, slots_, batch_, positions_, heads_;
  std::vector<Source> sources_;
};

// `batch` repeated `copies` times along the batch axis (annotations too): the input of a slot pass.
Batch tiled(const Batch& batch, int64_t copies);

}  // namespace mechlab
