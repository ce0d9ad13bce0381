#include "nn/hook_points.h"

#include <algorithm>
#include <stdexcept>

#include "config/closest.h"
#include "config/value_check.h"

namespace mechlab {

Tensor ActivationHooks::at(const std::string& name, const Tensor& activation) {
  visited_.insert(name);
  auto replacement = replacements_.find(name);
  Tensor result = replacement == replacements_.end() ? activation : replacement->second(activation);
  if (capture_all_ || captured_names_.count(name)) captured_[name] = result;
  return result;
}

const Tensor& ActivationHooks::get(const std::string& name) const {
  auto found = captured_.find(name);
  if (found == captured_.end()) throw std::out_of_range("no captured activation named '" + name + "'");
  return found->second;
}

std::vector<std::string> ActivationHooks::unvisited() const {
  std::vector<std::string> missing;
  for (const std::string& name : captured_names_)
    if (!visited_.count(name)) missing.push_back(name);
  for (const auto& [name, replacement] : replacements_)
    if (!visited_.count(name)) missing.push_back(name);
  return missing;
}

std::vector<std::string> hook_point_names(const TransformerConfig& c) {
  std::vector<std::string> names{"hook_embed"};
  if (c.positions == Positions::learned || c.positions == Positions::sinusoidal) names.push_back("hook_pos_embed");
  const bool norms = c.layernorm != LayerNormPlacement::none;
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string block = "blocks." + std::to_string(l);
    names.push_back(block + ".hook_resid_pre");
    if (c.layer(l).attention) {
      if (norms) names.push_back(block + ".ln1.hook_normalized");
      for (const char* name : {"hook_q", "hook_k", "hook_v"}) names.push_back(block + ".attn." + name);
      if (c.positions == Positions::rotary)
        for (const char* name : {"hook_rot_q", "hook_rot_k"}) names.push_back(block + ".attn." + name);
      for (const char* name : {"hook_attn_scores", "hook_pattern", "hook_z"}) names.push_back(block + ".attn." + name);
      names.push_back(block + ".hook_attn_out");
    }
    names.push_back(block + ".hook_resid_mid");
    if (c.layer(l).mlp && c.d_mlp > 0) {
      if (norms) names.push_back(block + ".ln2.hook_normalized");
      names.push_back(block + ".mlp.hook_pre");
      names.push_back(block + ".mlp.hook_post");
      names.push_back(block + ".hook_mlp_out");
    }
    names.push_back(block + ".hook_resid_post");
  }
  if (norms && c.output != OutputKind::heads) names.push_back("ln_final.hook_normalized");
  return names;
}

void check_hook_names(const std::vector<std::string>& names, const TransformerConfig& config) {
  const std::vector<std::string> valid = hook_point_names(config);
  for (const std::string& name : names) {
    if (std::find(valid.begin(), valid.end(), name) != valid.end()) continue;
    const std::string near = closest_match(name, valid);
    throw std::invalid_argument("no hook point '" + name + "' in this model" +
                                (near.empty() ? "" : "; did you mean " + near + "?") +
                                " Its hook points: " + config_detail::joined(valid));
  }
}

namespace {
// pyvene's names for the components of a GPT-2-style block, and where each sits in ours.
const std::vector<std::pair<std::string, std::string>>& pyvene_table() {
  static const std::vector<std::pair<std::string, std::string>> table = {
      {"block_input", "hook_resid_pre"},
      {"block_output", "hook_resid_post"},
      {"attention_input", "ln1.hook_normalized"},
      {"query_output", "attn.hook_q"},
      {"key_output", "attn.hook_k"},
      {"value_output", "attn.hook_v"},
      {"head_query_output", "attn.hook_q"},
      {"head_key_output", "attn.hook_k"},
      {"head_value_output", "attn.hook_v"},
      {"attention_weight", "attn.hook_pattern"},
      {"attention_value_output", "attn.hook_z"},
      {"head_attention_value_output", "attn.hook_z"},
      {"attention_output", "hook_attn_out"},
      {"mlp_input", "ln2.hook_normalized"},
      {"mlp_activation", "mlp.hook_post"},
      {"mlp_output", "hook_mlp_out"},
  };
  return table;
}
}  // namespace

std::string hook_name_of(const std::string& component, int layer) {
  for (const auto& [pyvene, ours] : pyvene_table())
    if (pyvene == component) return "blocks." + std::to_string(layer) + "." + ours;
  return "";
}

std::vector<std::string> pyvene_components() {
  std::vector<std::string> names;
  for (const auto& [pyvene, ours] : pyvene_table()) names.push_back(pyvene);
  return names;
}

}  // namespace mechlab
