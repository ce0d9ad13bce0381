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
  Tensor attention_block(int layer, const Tensor& x, ActivationHooks* hooks) const;
  Tensor mlp_block(int layer, const Tensor& x, ActivationHooks* hooks) const;
  Tensor norm(const std::string& prefix, const Tensor& x, ActivationHooks* hooks) const;
  // The sinusoidal table (1, 1, T, D), built once per length: a host-to-device copy inside the step
  // would break CUDA graph capture.
  const Tensor& sinusoidal_table(int64_t T) const;

  TransformerConfig config_;
  std::vector<ReplicaKey> replica_keys_;
  DType dtype_;
  Device device_;
  std::vector<NamedParameter> parameters_;
  std::map<std::string, size_t> index_;
  mutable std::map<int64_t, Tensor> sinusoidal_tables_;
};

}  // namespace mechlab
