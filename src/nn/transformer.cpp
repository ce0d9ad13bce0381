#include "nn/transformer.h"

#include <cmath>
#include <stdexcept>

#include "nn/parameter_specs.h"
#include "ops/ops.h"
#include "random/philox.h"

namespace mechlab {

namespace {
using Role = ParameterRole;

// The initial value of element `index` of a parameter, by scheme and role (see InitConfig).
double initial_value(const InitConfig& init, Role role, int64_t fan_in, const Philox& rng, uint64_t index) {
  if (role == Role::norm_weight) return 1.0;
  if (role == Role::norm_bias) return 0.0;
  switch (init.scheme) {
    case InitScheme::pytorch:
      if (role == Role::embedding) return rng.normal(index);
      return (2.0 * rng.uniform(index) - 1.0) / std::sqrt(static_cast<double>(fan_in));
    case InitScheme::normal: return role == Role::bias ? 0.0 : init.std * rng.normal(index);
    case InitScheme::zeros: return 0.0;
  }
  return 0.0;
}

Tensor sinusoidal_positions(int64_t T, int64_t D, DType dtype, Device device) {
  std::vector<double> table(T * D);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t i = 0; i < D; ++i) {
      const double angle = t / std::pow(10000.0, static_cast<double>(i - i % 2) / D);
      table[t * D + i] = i % 2 == 0 ? std::sin(angle) : std::cos(angle);
    }
  return Tensor::from_vector<double>({1, 1, T, D}, table).to(dtype).to(device);
}
}  // namespace

Transformer::Transformer(TransformerConfig config, std::vector<ReplicaKey> keys, DType dtype, Device device)
    : config_(std::move(config)), replica_keys_(std::move(keys)), dtype_(dtype), device_(device) {
  config_.validate();
  if (replica_keys_.empty()) throw std::invalid_argument("Transformer: at least one replica");
  for (const ParameterSpec& spec : parameter_specs(config_)) {
    Shape full{replicas()};
    full.insert(full.end(), spec.shape.begin(), spec.shape.end());
    const int64_t per_replica = numel(spec.shape);
    std::vector<double> values(replicas() * per_replica);
    for (int64_t r = 0; r < replicas(); ++r) {
      Philox rng(replica_keys_[r], RandomStream::init, static_cast<uint32_t>(parameters_.size()));
      for (int64_t i = 0; i < per_replica; ++i)
        values[r * per_replica + i] = initial_value(config_.init, spec.role, spec.fan_in, rng, i);
    }
    Tensor value = Tensor::from_vector<double>(full, values).to(dtype_).to(device_);
    value.set_requires_grad(true);
    index_[spec.name] = parameters_.size();
    parameters_.push_back({spec.name, value});
  }
}

const Tensor& Transformer::parameter(const std::string& name) const {
  auto found = index_.find(name);
  if (found == index_.end()) throw std::out_of_range("no parameter named '" + name + "'");
  return parameters_[found->second].value;
}

int64_t Transformer::parameter_count() const {
  int64_t total = 0;
  for (const NamedParameter& p : parameters_) total += p.value.numel() / replicas();
  return total;
}

const Tensor& Transformer::sinusoidal_table(int64_t T) const {
  Tensor& table = sinusoidal_tables_[T];
  if (!table.defined()) table = sinusoidal_positions(T, config_.d_model, dtype_, device_);
  return table;
}

Tensor Transformer::norm(const std::string& prefix, const Tensor& x, ActivationHooks* hooks) const {
  if (config_.layernorm == LayerNormPlacement::none) return x;
  const int64_t R = replicas(), D = config_.d_model;
  Tensor weight, bias;
  if (has_parameter(prefix + ".w")) weight = reshape(parameter(prefix + ".w"), {R, 1, 1, D});
  if (has_parameter(prefix + ".b")) bias = reshape(parameter(prefix + ".b"), {R, 1, 1, D});
  return hook(hooks, prefix + ".hook_normalized", layer_norm(x, weight, bias, config_.layernorm_eps));
}

Tensor Transformer::attention_block(int layer, const Tensor& x, ActivationHooks* hooks) const {
  const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
  const int64_t R = replicas(), B = x.dim(1), T = x.dim(2), D = config_.d_model;
  const int64_t H = config_.n_heads, E = config_.head_width();
  const Tensor rows = reshape(x, {R, B * T, D});
  // (R, B*T, D) @ W (R, H, D, E) -> (R, B, H, T, E); hooks see TransformerLens' (R, B, T, H, E).
  auto project = [&](const char* which) {
    Tensor w = reshape(permute(parameter(prefix + "W_" + which), {0, 2, 1, 3}), {R, D, H * E});
    Tensor y = matmul(rows, w);
    if (config_.biases) y = add(y, reshape(parameter(prefix + "b_" + which), {R, 1, H * E}));
    std::string hook_name = prefix + "hook_" + static_cast<char>(std::tolower(which[0]));
    y = hook(hooks, hook_name, reshape(y, {R, B, T, H, E}));
    return permute(y, {0, 1, 3, 2, 4});
  };
  Tensor q = project("Q"), k = project("K"), v = project("V");
  Tensor scores = hook(hooks, prefix + "hook_attn_scores",
                       matmul(q, k, false, true, config_.score_scale()));  // (R, B, H, T, T)
  Tensor pattern = hook(hooks, prefix + "hook_pattern",
                        attention_pattern(scores, config_.attention, config_.attention_excludes_self));
  Tensor z = hook(hooks, prefix + "hook_z", permute(matmul(pattern, v), {0, 1, 3, 2, 4}));  // (R, B, T, H, E)
  const Tensor& W_O = parameter(prefix + "W_O");  // (R, H, E, D), or (R, H, E, d_output) with output heads
  const int64_t written = W_O.dim(3);
  Tensor out = matmul(reshape(z, {R, B * T, H * E}), reshape(W_O, {R, H * E, written}));
  if (config_.biases) out = add(out, reshape(parameter(prefix + "b_O"), {R, 1, written}));
  return hook(hooks, "blocks." + std::to_string(layer) + ".hook_attn_out", reshape(out, {R, B, T, written}));
}

Tensor Transformer::mlp_block(int layer, const Tensor& x, ActivationHooks* hooks) const {
  const std::string prefix = "blocks." + std::to_string(layer) + ".mlp.";
  const int64_t R = replicas(), B = x.dim(1), T = x.dim(2), D = config_.d_model, M = config_.d_mlp;
  Tensor pre = matmul(reshape(x, {R, B * T, D}), parameter(prefix + "W_in"));
  if (config_.biases) pre = add(pre, reshape(parameter(prefix + "b_in"), {R, 1, M}));
  pre = hook(hooks, prefix + "hook_pre", reshape(pre, {R, B, T, M}));  // hooks see (R, B, T, M)
  Tensor post = hook(hooks, prefix + "hook_post", config_.activation == Activation::relu ? relu(pre) : gelu(pre));
  Tensor out = matmul(reshape(post, {R, B * T, M}), parameter(prefix + "W_out"));
  if (config_.biases) out = add(out, reshape(parameter(prefix + "b_out"), {R, 1, D}));
  return hook(hooks, "blocks." + std::to_string(layer) + ".hook_mlp_out", reshape(out, {R, B, T, D}));
}

Tensor Transformer::forward(const Tensor& input, ActivationHooks* hooks) const {
  const TransformerConfig& c = config_;
  const int64_t R = replicas(), D = c.d_model;
  const bool tokens = c.input == InputKind::tokens;
  const int expected_dims = tokens ? 3 : 4;
  if (input.ndim() != expected_dims || input.dim(0) != R || (!tokens && input.dim(3) != c.d_input))
    throw std::invalid_argument("Transformer::forward: expected input " +
                                std::string(tokens ? "(R, B, T) token ids" : "(R, B, T, d_input) vectors") +
                                " with R = " + std::to_string(R) + ", got " + to_string(input.shape()));
  const int64_t B = input.dim(1), T = input.dim(2);
  if (c.positions == Positions::learned && T > c.n_ctx)
    throw std::invalid_argument("Transformer::forward: sequence length " + std::to_string(T) + " exceeds model.n_ctx = " +
                                std::to_string(c.n_ctx));

  Tensor resid;
  if (tokens) {
    resid = embedding(parameter("embed.W_E"), input);
  } else if (c.input_projection) {
    resid = matmul(reshape(input, {R, B * T, c.d_input}), parameter("embed.W_in"));
    if (c.biases) resid = add(resid, reshape(parameter("embed.b_in"), {R, 1, D}));
    resid = reshape(resid, {R, B, T, D});
  } else {
    resid = input;
  }
  resid = hook(hooks, "hook_embed", resid);
  if (c.positions == Positions::learned)
    resid = add(resid, hook(hooks, "hook_pos_embed", reshape(slice(parameter("pos_embed.W_pos"), 1, 0, T), {R, 1, T, D})));
  else if (c.positions == Positions::sinusoidal)
    resid = add(resid, hook(hooks, "hook_pos_embed", sinusoidal_table(T)));

  for (int l = 0; l < c.n_layers; ++l) {
    const std::string block = "blocks." + std::to_string(l);
    resid = hook(hooks, block + ".hook_resid_pre", resid);
    if (c.layer(l).attention) {
      Tensor attn_out = attention_block(l, norm(block + ".ln1", resid, hooks), hooks);
      resid = c.residual ? add(resid, attn_out) : attn_out;
    }
    resid = hook(hooks, block + ".hook_resid_mid", resid);
    if (c.layer(l).mlp && c.d_mlp > 0) {
      Tensor mlp_out = mlp_block(l, norm(block + ".ln2", resid, hooks), hooks);
      resid = c.residual ? add(resid, mlp_out) : mlp_out;
    }
    resid = hook(hooks, block + ".hook_resid_post", resid);
  }
  if (c.output == OutputKind::heads) return checked(resid, hooks);  // the last block's heads wrote the output
  Tensor x = norm("ln_final", resid, hooks);
  const Tensor& W_U = parameter("unembed.W_U");
  const int64_t out_width = W_U.dim(2);
  Tensor out = matmul(reshape(x, {R, B * T, D}), W_U);
  if (c.biases) out = add(out, reshape(parameter("unembed.b_U"), {R, 1, out_width}));
  return checked(reshape(out, {R, B, T, out_width}), hooks);
}

Tensor Transformer::checked(const Tensor& output, const ActivationHooks* hooks) const {
  if (hooks) check_hook_names(hooks->unvisited(), config_);
  return output;
}

}  // namespace mechlab
