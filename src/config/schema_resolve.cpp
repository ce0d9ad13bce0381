// Schema::resolve: reject keys the schema does not know, select the schemas of dynamic sections, then check
// every entry and fill in defaults. Unknown keys go first so that a typo is named as a typo ("did you mean
// model.d_model?") rather than reported as the required key it was meant to be.
#include <algorithm>
#include <stdexcept>

#include "config/config_error.h"
#include "config/key_tree.h"
#include "config/schema.h"
#include "config/value_check.h"

namespace mechlab {
namespace {

using namespace config_detail;
using nlohmann::json;

KeyTree tree_of(const std::vector<SchemaEntry>& entries, const std::vector<std::string>& sections) {
  KeyTree tree;
  tree.add_section("");
  for (const SchemaEntry& entry : entries) tree.add_value(entry.path);
  for (const std::string& section : sections) tree.add_section(section);
  return tree;
}

// {"model.d_model": 64} is a natural thing to write and would otherwise be silently ignored.
std::string nested_example(const std::string& dotted) {
  std::string opening, closing;
  for (const std::string& name : split_path(dotted)) {
    opening += "{\"" + name + "\": ";
    closing += "}";
  }
  return opening + "..." + closing;
}

// Throws on the first key of `object` (found at `section`) that `tree` does not know, or on a section
// that is not an object. The contents of `deferred` sections are checked later.
void reject_unknown_keys(const json& object, const std::string& section, const KeyTree& tree,
                         const std::vector<std::string>& deferred) {
  for (const auto& [key, value] : object.items()) {
    const std::string path = join_path(section, key);
    if (key.empty()) throw ConfigError(path.empty() ? "\"\"" : path + ".\"\"", "empty key; remove it");
    if (key.find('.') != std::string::npos) {
      throw ConfigError(path, "a key cannot contain '.'; nest objects instead: " + nested_example(key));
    }
    if (tree.is_value(path)) continue;
    if (!tree.is_section(path)) throw ConfigError(path, tree.unknown_key_message(section, key, path));
    if (!value.is_object()) throw ConfigError(path, tree.not_an_object_message(path, value));
    if (std::find(deferred.begin(), deferred.end(), path) != deferred.end()) continue;
    reject_unknown_keys(value, path, tree, deferred);
  }
}

void set_at(json& root, const std::string& path, json value) {
  json* node = &root;
  for (const std::string& name : split_path(path)) node = &(*node)[name];
  *node = std::move(value);
}

}  // namespace

json Schema::resolve(const json& user) const {
  const std::vector<std::string> dynamic = dynamic_prefixes();
  const KeyTree static_tree = tree_of(entries_, dynamic);
  if (!user.is_object()) throw ConfigError("(top level)", static_tree.not_an_object_message("", user));
  reject_unknown_keys(user, "", static_tree, dynamic);

  // The full entry list for this config: each dynamic section's entries right after its selector.
  std::vector<SchemaEntry> entries = entries_;
  for (const DynamicSection& section : dynamic_sections_) {
    const std::vector<SchemaEntry> added = with_prefix(section, selected_schema(section, user, ""));
    for (const SchemaEntry& entry : added) {
      for (const SchemaEntry& existing : entries) {
        if (existing.path == entry.path) {
          throw std::logic_error("schema: " + entry.path + " is declared both in the schema and in the selected " +
                                 noun(section.prefix) + "'s schema");
        }
      }
    }
    auto selector = std::find_if(entries.begin(), entries.end(),
                                 [&](const SchemaEntry& entry) { return entry.path == section.selector_key; });
    entries.insert(selector + 1, added.begin(), added.end());
  }
  const KeyTree tree = tree_of(entries, dynamic);
  for (const std::string& prefix : dynamic) {
    if (const json* section = value_at(user, prefix)) reject_unknown_keys(*section, prefix, tree, {});
  }

  json resolved = json::object();
  for (const SchemaEntry& entry : entries) {
    if (const json* value = value_at(user, entry.path)) {
      set_at(resolved, entry.path, check_value(entry, *value, entry.path));
    } else if (entry.default_value.is_null() && !entry.nullable) {
      throw ConfigError(entry.path, required_message(entry));
    } else {
      set_at(resolved, entry.path, entry.default_value);
    }
  }
  return resolved;
}

}  // namespace mechlab
