// The kinds of analysis a spec entry can name, and the dispatch from "kind" to each one's parser.
#include <fmt/format.h>

#include "analysis/kinds.h"
#include "config/closest.h"
#include "config/config_error.h"

namespace mechlab {

namespace {
using Factory = std::unique_ptr<Analysis> (*)(const SpecReader&, const SpecTarget&);
const std::vector<std::pair<std::string, Factory>>& factories() {
  static const std::vector<std::pair<std::string, Factory>> table = {
      {"ablation", make_ablation},
      {"activation_patching", make_activation_patching},
      {"path_patching", make_path_patching},
      {"subspace_patching", make_subspace_patching},
      {"head_importance", make_head_importance},
      {"direct_attribution", make_direct_attribution},
      {"circuits", make_circuits},
      {"attention_flow", make_attention_flow},
  };
  return table;
}
}  // namespace

std::vector<std::string> analysis_kinds() {
  std::vector<std::string> kinds;
  for (const auto& [kind, factory] : factories()) kinds.push_back(kind);
  return kinds;
}

std::unique_ptr<Analysis> parse_analysis(const SpecReader& entry, const SpecTarget& target) {
  const std::string kind = entry.choice("kind", analysis_kinds(), entry.has("kind") ? "" : "(missing)");
  for (const auto& [name, factory] : factories())
    if (name == kind) return factory(entry, target);
  throw ConfigError(entry.at("kind"), "unknown kind");
}

}  // namespace mechlab
