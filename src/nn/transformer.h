// A transformer built from a TransformerConfig, holding R replicas of every parameter along a leading
// axis. Parameter names and shapes (after the replica axis) follow TransformerLens: embed.W_E (V, D),
// blocks.0.attn.W_Q (H, D, E), blocks.0.attn.W_O (H, E, D), unembed.W_U (D, V), ...
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/hook_points.h"
#include "nn/transformer_config.h"
#include "random/replica_key.h"
#include "tensor/named_tensor.h"
#include "tensor/tensor.h"

namespace mechlab {

// A parameter: (R, ...) with requires_grad.
using NamedParameter = NamedTensor;

// What a forward pass may take from a base run instead of computing it, when nothing it changes can reach
// there (the patched passes of analysis/slot_patches.h): the layers before first_layer and the positions
// before first_position (the model is causal). Only positions first_position.. of layers first_layer.. are
// computed, their attention reading the base run's keys and values at the earlier positions; the output has
// every position, the base run's before first_position. The base tensors have the base batch B; a pass of
// S * B examples (S copies of the base batch) tiles them.
//   from_z: first_layer starts at its hook_z, the base run's (nothing before it in that layer is patched);
//   last_position >= 0 (with from_z, every patch in first_layer): in first_layer, positions after it are the
//   base run's too, since every patch there changes its own position only.
struct ForwardWindow {
  int first_layer = 0;
  int64_t first_position = 0;
  bool from_z = false;
  int64_t last_position = -1;
  std::vector<Tensor> resid_pre;        // per layer: hook_resid_pre (R, B, T, D)
  std::vector<Tensor> keys, values, z;  // per layer: hook_k, hook_v, hook_z (R, B, T, H, E)
  Tensor output;                        // (R, B, T, out)
  // When defined, the output at one position per example only, (R, S * B, 1, out): the last layer (unpatched,
  // after first_layer) is computed at that position alone, its keys and values at every position. Needs
  // softmax attention without excludes_self, a residual stream and logits or readout output
  // (supports_one_position()). query_select (R, B, 1, T) is 1 at each base example's position, key_mask
  // (R, B, 1, 1, T) 0 up to it and -inf after.
  Tensor query_select, key_mask;
};

class Transformer {
 public:
  // One replica per key: replica i of a packed run equals a run of {keys[i]} alone. Parameters
  // start as config.init says, drawn from each replica's key.
  Transformer(TransformerConfig config, std::vector<ReplicaKey> keys, DType dtype = DType::f32,
              Device device = Device::cpu);

  // tokens i32 (R, B, T) or vectors (R, B, T, d_input) -> logits (R, B, T, d_vocab) or (R, B, T, d_output).
  // Every intermediate passes through hooks (TransformerLens hook names, nn/hook_points.h) when hooks is
  // given; throws std::invalid_argument when hooks names a point this model does not have.
  Tensor forward(const Tensor& input, ActivationHooks* hooks = nullptr) const;
  // The same numbers, computing only what `window` does not give (up to rounding: products of fewer rows).
  Tensor forward(const Tensor& input, ActivationHooks* hooks, const ForwardWindow& window) const;

  // Whether a forward window may ask for the output at one position per example (ForwardWindow::query_select).
  bool supports_one_position() const;

  const TransformerConfig& config() const { return config_; }
  int64_t replicas() const { return static_cast<int64_t>(replica_keys_.size()); }
  const std::vector<ReplicaKey>& replica_keys() const { return replica_keys_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  const std::vector<NamedParameter>& parameters() const { return parameters_; }
  const Tensor& parameter(const std::string& name) const;
  bool has_parameter(const std::string& name) const { return index_.count(name) > 0; }
  int64_t parameter_count() const;  // per replica

 private:
  Tensor hook(ActivationHooks* hooks, const std::string& name, const Tensor& x) const {
    return hooks ? hooks->at(name, x) : x;
  }
  // `output`, after refusing hooks registered on names the forward pass did not reach (misspelt, or points
  // this model does not have).
  Tensor checked(const Tensor& output, const ActivationHooks* hooks) const;
  // One of q, k, v of a layer from its normalised input (R, B, T, D): (R, B, T, H, E), after its hook.
  Tensor project(int layer, char which, const Tensor& x, ActivationHooks* hooks) const;
  // The last layer and the output at one position per example (ForwardWindow::query_select); resid holds
  // positions first_position.. .
  Tensor last_layer_at_positions(const Tensor& resid, const ForwardWindow& window) const;
  // hook_z of a layer from its normalised input, and the layer's output from its hook_z.
  Tensor attention_z(int layer, const Tensor& x, ActivationHooks* hooks, const ForwardWindow* window) const;
  // z (R, B, T', H, E) from q, k, v in the same layout, through hook_attn_scores and hook_pattern: the scores
  // and the pattern exist only when a hook asks for them.
  Tensor attend(int layer, const Tensor& q, const Tensor& k, const Tensor& v, ActivationHooks* hooks) const;
  Tensor attention_output(int layer, const Tensor& z, ActivationHooks* hooks) const;
  Tensor forward_from(const Tensor& input, ActivationHooks* hooks, const ForwardWindow* window) const;
  Tensor mlp_block(int layer, const Tensor& x, ActivationHooks* hooks) const;
  Tensor norm(const std::string& prefix, const Tensor& x, ActivationHooks* hooks) const;
  // The sinusoidal table (1, 1, T, D), built once per length: a host-to-device copy inside the step
  // would break CUDA graph capture.
  const Tensor& sinusoidal_table(int64_t T) const;
  // Queries or keys (R, B, T', H, E) at positions first .. first + T' - 1, rotated (positions rotary), after
  // hook_rot_q / hook_rot_k; the tables are built once per length, as the sinusoidal one.
  Tensor rotated(int layer, char which, const Tensor& x, int64_t first, ActivationHooks* hooks) const;

  TransformerConfig config_;
  std::vector<ReplicaKey> replica_keys_;
  DType dtype_;
  Device device_;
  std::vector<NamedParameter> parameters_;
  std::map<std::string, size_t> index_;
  mutable std::map<int64_t, Tensor> sinusoidal_tables_;
  mutable std::map<int64_t, std::pair<Tensor, Tensor>> rotary_tables_;  // cos, sin (T, E) by length T
};

}  // namespace mechlab
