#include "nn/parameter_specs.h"

namespace mechlab {

std::vector<ParameterSpec> parameter_specs(const TransformerConfig& c) {
  using Role = ParameterRole;
  const int64_t D = c.d_model, H = c.n_heads, E = c.head_width(), M = c.d_mlp;
  std::vector<ParameterSpec> specs;
  auto add = [&](const std::string& name, const Shape& shape, Role role, int64_t fan_in) {
    specs.push_back({name, shape, role, fan_in});
  };
  auto add_norm = [&](const std::string& prefix) {
    if (c.layernorm == LayerNormPlacement::none || !c.layernorm_weight) return;
    add(prefix + ".w", {D}, Role::norm_weight, 0);
    if (c.has_layernorm_bias()) add(prefix + ".b", {D}, Role::norm_bias, 0);
  };

  if (c.input == InputKind::tokens) {
    add("embed.W_E", {c.d_vocab, D}, Role::embedding, 0);
  } else if (c.input_projection || c.input == InputKind::token_pairs) {
    add("embed.W_in", {c.d_input, D}, Role::matrix, c.d_input);
    if (c.biases) add("embed.b_in", {D}, Role::bias, c.d_input);
  }
  if (c.positions == Positions::learned) add("pos_embed.W_pos", {c.n_ctx, D}, Role::embedding, 0);
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string block = "blocks." + std::to_string(l);
    // With output heads, the last block's heads write the output: W_O maps them to d_output.
    const int64_t written = c.output == OutputKind::heads && l == c.n_layers - 1 ? c.d_output : D;
    if (c.layer(l).attention) {
      add_norm(block + ".ln1");
      for (const char* name : {"Q", "K", "V"}) add(block + ".attn.W_" + name, {H, D, E}, Role::matrix, D);
      add(block + ".attn.W_O", {H, E, written}, Role::matrix, H * E);
      if (c.biases) {
        for (const char* name : {"Q", "K", "V"}) add(block + ".attn.b_" + name, {H, E}, Role::bias, D);
        add(block + ".attn.b_O", {written}, Role::bias, H * E);
      }
    }
    if (c.layer(l).mlp && M > 0) {
      add_norm(block + ".ln2");
      add(block + ".mlp.W_in", {D, M}, Role::matrix, D);
      if (c.biases) add(block + ".mlp.b_in", {M}, Role::bias, D);
      add(block + ".mlp.W_out", {M, D}, Role::matrix, M);
      if (c.biases) add(block + ".mlp.b_out", {D}, Role::bias, M);
    }
  }
  if (c.output == OutputKind::heads) return specs;
  add_norm("ln_final");
  add("unembed.W_U", {D, c.output_width()}, Role::matrix, D);
  if (c.biases) add("unembed.b_U", {c.output_width()}, Role::bias, D);
  return specs;
}

int64_t parameter_count(const TransformerConfig& c) {
  int64_t total = 0;
  for (const ParameterSpec& spec : parameter_specs(c)) total += numel(spec.shape);
  return total;
}

}  // namespace mechlab
