#include "analysis/components.h"

#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "config/config_error.h"
#include "config/value_check.h"
#include "nn/hook_points.h"

namespace mechlab {

std::string Component::label() const {
  switch (kind) {
    case Kind::head: return fmt::format("L{}H{}", layer, head);
    case Kind::layer: return fmt::format("L{}", layer);
    case Kind::mlp: return fmt::format("L{}.mlp", layer);
  }
  return "";
}

Component parse_component(const std::string& text, const TransformerConfig& c, const std::string& path) {
  static const std::regex pattern(R"(L(\d+)(H(\d+)|\.mlp)?)");
  std::smatch m;
  if (!std::regex_match(text, m, pattern))
    throw ConfigError(path, fmt::format("'{}' is not a component; write a head as L0H1, a layer as L0, an MLP as L0.mlp", text));
  Component out;
  out.layer = std::stoi(m[1]);
  if (out.layer >= c.n_layers)
    throw ConfigError(path, fmt::format("'{}': the model has layers 0..{}", text, c.n_layers - 1));
  if (m[3].matched) {
    out.kind = Component::Kind::head;
    out.head = std::stoi(m[3]);
    if (!c.layer(out.layer).attention) throw ConfigError(path, fmt::format("'{}': layer {} has no attention", text, out.layer));
    if (out.head >= c.n_heads) throw ConfigError(path, fmt::format("'{}': the model has heads 0..{}", text, c.n_heads - 1));
  } else if (m[2].matched) {
    out.kind = Component::Kind::mlp;
    if (!c.layer(out.layer).mlp || c.d_mlp == 0) throw ConfigError(path, fmt::format("'{}': layer {} has no MLP", text, out.layer));
  } else {
    out.kind = Component::Kind::layer;
  }
  return out;
}

std::vector<Component> every_head(const TransformerConfig& c) {
  std::vector<Component> heads;
  for (int l = 0; l < c.n_layers; ++l)
    if (c.layer(l).attention)
      for (int h = 0; h < c.n_heads; ++h) heads.push_back({Component::Kind::head, l, h});
  return heads;
}

bool is_head_family(const std::string& family) {
  return family == "z" || family == "q" || family == "k" || family == "v" || family == "pattern";
}

std::vector<std::string> patching_families() {
  return {"resid_pre", "resid_mid", "resid_post", "attn_out", "mlp_out", "z", "q", "k", "v", "pattern"};
}

std::string family_hook(const std::string& family, int layer, const TransformerConfig& c) {
  const std::string block = fmt::format("blocks.{}.", layer);
  const bool attention = c.layer(layer).attention, mlp = c.layer(layer).mlp && c.d_mlp > 0;
  if (is_head_family(family)) return attention ? block + "attn.hook_" + family : "";
  if (family == "attn_out") return attention ? block + "hook_attn_out" : "";
  if (family == "mlp_out") return mlp ? block + "hook_mlp_out" : "";
  return block + "hook_" + family;  // resid_pre, resid_mid, resid_post
}

std::string parse_hook(const nlohmann::json& value, const TransformerConfig& c, const std::string& path) {
  std::string name;
  if (value.is_string()) {
    name = value.get<std::string>();
  } else if (value.is_object() && value.contains("component") && value["component"].is_string() &&
             value.contains("layer") && value["layer"].is_number_integer()) {
    name = hook_name_of(value["component"].get<std::string>(), value["layer"].get<int>());
    if (name.empty()) {
      throw ConfigError(path + ".component",
                        "is not one of pyvene's components: " + config_detail::joined(pyvene_components()));
    }
  } else {
    throw ConfigError(path, "must be a hook name (\"blocks.0.hook_resid_post\") or {\"component\": ..., \"layer\": ...}");
  }
  try {
    check_hook_names({name}, c);
  } catch (const std::invalid_argument& error) {
    throw ConfigError(path, error.what());
  }
  if (name == "hook_pos_embed") throw ConfigError(path, "hook_pos_embed is shared by every example; patch hook_embed instead");
  return name;
}

}  // namespace mechlab
