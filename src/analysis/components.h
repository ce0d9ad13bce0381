// The names specs use for parts of a model: heads "L1H2", layers "L1", MLPs "L1.mlp"; activation families as
// TransformerLens' patching functions name them (resid_pre, attn_out, z, pattern...); hook names as the
// model lists them (nn/hook_points.h) or as pyvene's {"component", "layer"}. Every name is checked against the
// model, and a mistake is a ConfigError at the JSON path that holds it.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/transformer_config.h"

namespace mechlab {

struct Component {
  enum class Kind { head, layer, mlp } kind = Kind::head;
  int layer = 0, head = 0;
  std::string label() const;  // "L0H1", "L0", "L0.mlp"
};

Component parse_component(const std::string& text, const TransformerConfig& config, const std::string& json_path);
// Every head, layer with attention first (L0H0, L0H1, ...).
std::vector<Component> every_head(const TransformerConfig& config);

// Families of activation patching: by layer and position (resid_pre, resid_mid, resid_post, attn_out, mlp_out) or
// by head (z, q, k, v, pattern).
bool is_head_family(const std::string& family);
std::vector<std::string> patching_families();
// The hook of `family` at `layer`, or "" when the layer has no such point (no attention, no MLP).
std::string family_hook(const std::string& family, int layer, const TransformerConfig& config);

// A hook point named in a spec: a string (TransformerLens name) or {"component": pyvene name, "layer": l}.
std::string parse_hook(const nlohmann::json& value, const TransformerConfig& config, const std::string& json_path);

}  // namespace mechlab
