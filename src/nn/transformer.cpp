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

Tensor Transformer::rotated(int layer, char which, const Tensor& x, int64_t first, ActivationHooks* hooks) const {
  const int64_t rows = x.dim(2), T = first + rows, E = config_.head_width();
  auto& tables = rotary_tables_[T];
  if (!tables.first.defined())
    tables = rotary_tables(0, T, E, config_.rotary_base, dtype_, device_);
  // (T', 1, E): every head of a position turns alike.
  const Tensor cos = reshape(first > 0 ? slice(tables.first, 0, first, T) : tables.first, {rows, 1, E});
  const Tensor sin = reshape(first > 0 ? slice(tables.second, 0, first, T) : tables.second, {rows, 1, E});
  const std::string name = "blocks." + std::to_string(layer) + ".attn.hook_rot_" + static_cast<char>(std::tolower(which));
  return hook(hooks, name, rotary(x, cos, sin));
}

Tensor Transformer::norm(const std::string& prefix, const Tensor& x, ActivationHooks* hooks) const {
  if (config_.layernorm == LayerNormPlacement::none) return x;
  const int64_t R = replicas(), D = config_.d_model;
  Tensor weight, bias;
  if (has_parameter(prefix + ".w")) weight = reshape(parameter(prefix + ".w"), {R, 1, 1, D});
  if (has_parameter(prefix + ".b")) bias = reshape(parameter(prefix + ".b"), {R, 1, 1, D});
  return hook(hooks, prefix + ".hook_normalized", layer_norm(x, weight, bias, config_.layernorm_eps));
}

namespace {
// `x` (R, B, ...) repeated along the batch axis to `batch` examples (slot passes hold copies of the base batch).
Tensor tiled_to(const Tensor& x, int64_t batch) { return repeat(x, 1, batch / x.dim(1)); }
// Positions [begin, end) of a base run's activation (R, B, T, ...), repeated to `batch` examples.
Tensor base_rows(const Tensor& base, int64_t begin, int64_t end, int64_t batch) {
  return tiled_to(slice(base, 2, begin, end), batch);
}
// A window's keys or values (R, batch, T', H, E) after the base run's at the positions before `first`
// (hook_k / hook_v, (R, B, T, H, E)).
Tensor after_earlier_heads(const Tensor& base, int64_t first, const Tensor& later) {
  // A statement of its own, so the repeated copy is freed before the join (it would live through it).
  const Tensor earlier = base_rows(base, 0, first, later.dim(1));
  return concat({earlier, later}, 2);
}
}  // namespace

Tensor Transformer::project(int layer, char which, const Tensor& x, ActivationHooks* hooks) const {
  const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
  const int64_t R = replicas(), B = x.dim(1), T = x.dim(2), D = config_.d_model;
  const int64_t H = config_.n_heads, E = config_.head_width();
  // (R, B*T, D) @ W (R, H, D, E) -> (R, B, T, H, E), TransformerLens' layout.
  const Tensor w = reshape(permute(parameter(prefix + "W_" + which), {0, 2, 1, 3}), {R, D, H * E});
  Tensor y = matmul(reshape(x, {R, B * T, D}), w);
  if (config_.biases) y = add(y, reshape(parameter(prefix + "b_" + which), {R, 1, H * E}));
  const std::string hook_name = prefix + "hook_" + static_cast<char>(std::tolower(which));
  return hook(hooks, hook_name, reshape(y, {R, B, T, H, E}));
}

Tensor Transformer::attention_z(int layer, const Tensor& x, ActivationHooks* hooks, const ForwardWindow* window) const {
  const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
  Tensor q = project(layer, 'Q', x, hooks), k = project(layer, 'K', x, hooks), v = project(layer, 'V', x, hooks);
  if (window && window->first_position > 0) {  // joined to the base run's earlier keys and values
    k = after_earlier_heads(window->keys.at(layer), window->first_position, k);
    v = after_earlier_heads(window->values.at(layer), window->first_position, v);
  }
  if (config_.positions == Positions::rotary) {  // the queries are the last T' of the T positions
    q = rotated(layer, 'Q', q, k.dim(2) - q.dim(2), hooks);
    k = rotated(layer, 'K', k, 0, hooks);
  }
  return hook(hooks, prefix + "hook_z", attend(layer, q, k, v, hooks));
}

Tensor Transformer::attend(int layer, const Tensor& q, const Tensor& k, const Tensor& v, ActivationHooks* hooks) const {
  const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
  const TransformerConfig& c = config_;
  if (!hooks || (!hooks->wants(prefix + "hook_attn_scores") && !hooks->wants(prefix + "hook_pattern")))
    return attention(q, k, v, c.attention, c.attention_excludes_self, c.score_scale());
  // The same composition as ops::attention's unfused path, so hooked and plain passes agree.
  Tensor scores = hook(hooks, prefix + "hook_attn_scores",
                       matmul(heads_first(q), heads_first(k), false, true, c.score_scale()));  // (R, B, H, T', T)
  Tensor pattern = hook(hooks, prefix + "hook_pattern", attention_pattern(scores, c.attention, c.attention_excludes_self));
  return heads_first(matmul(pattern, heads_first(v)));
}

bool Transformer::supports_one_position() const {
  const TransformerConfig& c = config_;
  return c.n_layers > 1 && c.layer(c.n_layers - 1).attention && c.attention == AttentionKind::softmax &&
         !c.attention_excludes_self && c.residual && c.output != OutputKind::heads &&
         c.positions != Positions::rotary;  // its query would need each example's own rotation
}

Tensor Transformer::last_layer_at_positions(const Tensor& resid, const ForwardWindow& window) const {
  const TransformerConfig& c = config_;
  const int l = c.n_layers - 1;
  const std::string block = "blocks." + std::to_string(l);
  const int64_t B = resid.dim(1), t0 = window.first_position;
  const Tensor every = t0 > 0 ? concat({base_rows(window.resid_pre.at(l), 0, t0, B), resid}, 2) : resid;
  Tensor at = matmul(tiled_to(window.query_select, B), every);  // (R, B, 1, D): each example's position
  // Keys and values at every position (the base run's before t0), the query at the example's position only:
  // as the last of T positions it sees every key, and the mask hides those after the example's position.
  const Tensor normalized = norm(block + ".ln1", resid, nullptr);
  Tensor k = project(l, 'K', normalized, nullptr), v = project(l, 'V', normalized, nullptr);
  if (t0 > 0) {
    k = after_earlier_heads(window.keys.at(l), t0, k);
    v = after_earlier_heads(window.values.at(l), t0, v);
  }
  const Tensor q = project(l, 'Q', norm(block + ".ln1", at, nullptr), nullptr);  // (R, B, 1, H, E)
  const Tensor scores =
      add(matmul(heads_first(q), heads_first(k), false, true, c.score_scale()), tiled_to(window.key_mask, B));
  const Tensor z = heads_first(matmul(attention_pattern(scores, c.attention), heads_first(v)));  // (R, B, 1, H, E)
  at = add(at, attention_output(l, z, nullptr));
  if (c.layer(l).mlp && c.d_mlp > 0) at = add(at, mlp_block(l, norm(block + ".ln2", at, nullptr), nullptr));
  const Tensor x = norm("ln_final", at, nullptr);
  const Tensor& W_U = parameter("unembed.W_U");
  const int64_t R = replicas(), D = c.d_model, W = W_U.dim(2);
  Tensor out = matmul(reshape(x, {R, B, D}), W_U);
  if (c.biases) out = add(out, reshape(parameter("unembed.b_U"), {R, 1, W}));
  return reshape(out, {R, B, 1, W});
}

Tensor Transformer::attention_output(int layer, const Tensor& z, ActivationHooks* hooks) const {
  const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
  const int64_t R = replicas(), B = z.dim(1), T = z.dim(2), HE = config_.n_heads * config_.head_width();
  const Tensor& W_O = parameter(prefix + "W_O");  // (R, H, E, D), or (R, H, E, d_output) with output heads
  const int64_t written = W_O.dim(3);
  Tensor out = matmul(reshape(z, {R, B * T, HE}), reshape(W_O, {R, HE, written}));
  if (config_.biases) out = add(out, reshape(parameter(prefix + "b_O"), {R, 1, written}));
  return hook(hooks, "blocks." + std::to_string(layer) + ".hook_attn_out", reshape(out, {R, B, T, written}));
}

Tensor Transformer::mlp_block(int layer, const Tensor& x, ActivationHooks* hooks) const {
  const std::string prefix = "blocks." + std::to_string(layer) + ".mlp.";
  const int64_t R = replicas(), B = x.dim(1), T = x.dim(2), D = config_.d_model, M = config_.d_mlp;
  Tensor pre = matmul(reshape(x, {R, B * T, D}), parameter(prefix + "W_in"));
  if (config_.biases) pre = add(pre, reshape(parameter(prefix + "b_in"), {R, 1, M}));
  pre = hook(hooks, prefix + "hook_pre", reshape(pre, {R, B, T, M}));  // hooks see (R, B, T, M)
  const bool relu_mlp = config_.activation == Activation::relu;
  Tensor out;
  if (hooks && hooks->wants(prefix + "hook_post")) {
    Tensor post = hook(hooks, prefix + "hook_post", relu_mlp ? relu(pre) : gelu(pre));
    out = matmul(reshape(post, {R, B * T, M}), parameter(prefix + "W_out"));
  } else {  // the same numbers, without keeping the activated hidden layer for the backward
    out = activation_matmul(reshape(pre, {R, B * T, M}), parameter(prefix + "W_out"),
                            relu_mlp ? UnaryOp::relu : UnaryOp::gelu);
  }
  if (config_.biases) out = add(out, reshape(parameter(prefix + "b_out"), {R, 1, D}));
  return hook(hooks, "blocks." + std::to_string(layer) + ".hook_mlp_out", reshape(out, {R, B, T, D}));
}

Tensor Transformer::forward(const Tensor& input, ActivationHooks* hooks) const { return forward_from(input, hooks, nullptr); }

Tensor Transformer::forward(const Tensor& input, ActivationHooks* hooks, const ForwardWindow& window) const {
  const bool whole = window.first_layer == 0 && window.first_position == 0 && !window.from_z && window.last_position < 0 &&
                     !window.query_select.defined();
  if (whole) return forward_from(input, hooks, nullptr);
  if (window.query_select.defined() && !supports_one_position())
    throw std::invalid_argument("Transformer::forward: this model cannot compute its output at one position per example");
  return forward_from(input, hooks, &window);
}

Tensor Transformer::forward_from(const Tensor& input, ActivationHooks* hooks, const ForwardWindow* window) const {
  const TransformerConfig& c = config_;
  const int64_t R = replicas(), D = c.d_model;
  const bool tokens = c.input == InputKind::tokens, pairs = c.input == InputKind::token_pairs;
  const int expected_dims = tokens ? 3 : 4;
  const int64_t per_position = pairs ? 2 : c.d_input;
  if (input.ndim() != expected_dims || input.dim(0) != R || (!tokens && input.dim(3) != per_position))
    throw std::invalid_argument("Transformer::forward: expected input " +
                                std::string(tokens  ? "(R, B, T) token ids"
                                            : pairs ? "(R, B, T, 2) token pairs"
                                                    : "(R, B, T, d_input) vectors") +
                                " with R = " + std::to_string(R) + ", got " + to_string(input.shape()));
  backend_for(input.device()).set_replica_count(R);
  const int64_t B = input.dim(1), T = input.dim(2);
  if (c.positions == Positions::learned && T > c.n_ctx)
    throw std::invalid_argument("Transformer::forward: sequence length " + std::to_string(T) + " exceeds model.n_ctx = " +
                                std::to_string(c.n_ctx));

  // With a window, positions t0 .. stop - 1 only, from layer l0 (from its hook_z with from_z); stop < T in
  // layer l0 only.
  const int64_t t0 = window ? window->first_position : 0;
  int64_t stop = window && window->last_position >= 0 ? window->last_position + 1 : T;
  const int64_t rows = T - t0;
  const int l0 = window ? window->first_layer : 0;
  const bool from_z = window && window->from_z;
  Tensor resid;
  if (l0 > 0 || from_z) {
    resid = base_rows(window->resid_pre.at(l0), t0, stop, B);
  } else {
    const Tensor in = t0 > 0 ? slice(input, 2, t0, T) : input;
    if (tokens) {
      resid = embedding(parameter("embed.W_E"), in);
    } else if (pairs) {  // (R, B, T', 2, D): the two rows, added
      resid = sum(embedding(parameter("embed.W_in"), in), {3});
      if (c.biases) resid = add(resid, reshape(parameter("embed.b_in"), {R, 1, 1, D}));
    } else if (c.input_projection) {
      resid = matmul(reshape(in, {R, B * rows, c.d_input}), parameter("embed.W_in"));
      if (c.biases) resid = add(resid, reshape(parameter("embed.b_in"), {R, 1, D}));
      resid = reshape(resid, {R, B, rows, D});
    } else {
      resid = in;
    }
    resid = hook(hooks, "hook_embed", resid);
    if (c.positions == Positions::learned)
      resid = add(resid, hook(hooks, "hook_pos_embed", reshape(slice(parameter("pos_embed.W_pos"), 1, t0, T), {R, 1, rows, D})));
    else if (c.positions == Positions::sinusoidal)
      resid = add(resid, hook(hooks, "hook_pos_embed", t0 > 0 ? slice(sinusoidal_table(T), 2, t0, T) : sinusoidal_table(T)));
  }

  for (int l = l0; l < c.n_layers; ++l) {
    if (window && window->query_select.defined() && l == c.n_layers - 1 && l > l0)
      return checked(last_layer_at_positions(resid, *window), hooks);
    const std::string block = "blocks." + std::to_string(l);
    if (c.layer(l).attention) {
      Tensor z;
      if (from_z && l == l0) {
        z = hook(hooks, block + ".attn.hook_z", base_rows(window->z.at(l), t0, stop, B));
      } else {
        resid = hook(hooks, block + ".hook_resid_pre", resid);
        z = attention_z(l, norm(block + ".ln1", resid, hooks), hooks, window);
      }
      Tensor attn_out = attention_output(l, z, hooks);
      resid = c.residual ? add(resid, attn_out) : attn_out;
    } else {
      resid = hook(hooks, block + ".hook_resid_pre", resid);
    }
    resid = hook(hooks, block + ".hook_resid_mid", resid);
    if (c.layer(l).mlp && c.d_mlp > 0) {
      Tensor mlp_out = mlp_block(l, norm(block + ".ln2", resid, hooks), hooks);
      resid = c.residual ? add(resid, mlp_out) : mlp_out;
    }
    resid = hook(hooks, block + ".hook_resid_post", resid);
    if (stop < T && l + 1 < c.n_layers) {  // the next layer reads every later position: the base run's after stop
      resid = concat({resid, base_rows(window->resid_pre.at(l + 1), stop, T, B)}, 2);
      stop = T;
    }
  }
  auto with_earlier = [&](const Tensor& out) {  // the base run's output before t0 and from stop
    if (t0 == 0 && stop == T) return out;
    std::vector<Tensor> parts;
    if (t0 > 0) parts.push_back(base_rows(window->output, 0, t0, B));
    parts.push_back(out);
    if (stop < T) parts.push_back(base_rows(window->output, stop, T, B));
    return concat(parts, 2);
  };
  if (c.output == OutputKind::heads) return checked(with_earlier(resid), hooks);  // the last block's heads wrote it
  Tensor x = norm("ln_final", resid, hooks);
  const Tensor& W_U = parameter("unembed.W_U");
  const int64_t out_width = W_U.dim(2);
  Tensor out = matmul(reshape(x, {R, B * (stop - t0), D}), W_U);
  if (c.biases) out = add(out, reshape(parameter("unembed.b_U"), {R, 1, out_width}));
  return checked(with_earlier(reshape(out, {R, B, stop - t0, out_width})), hooks);
}

Tensor Transformer::checked(const Tensor& output, const ActivationHooks* hooks) const {
  if (hooks) check_hook_names(hooks->unvisited(), config_);
  return output;
}

}  // namespace mechlab
