// KeyTree: the sections and values of a schema, and the unknown-key messages built from them, with the
// suggestion rules that decide which key a typo most likely meant.
#include "config/key_tree.h"

#include <algorithm>
#include <cctype>

#include "config/closest.h"
#include "config/value_check.h"

namespace mechlab::config_detail {
namespace {

std::string lowercase(std::string word) {
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

std::string last_name(const std::string& path) {
  const size_t dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

}  // namespace

void KeyTree::add_section(const std::string& path) {
  if (children_.count(path)) return;
  children_[path];
  if (path.empty()) return;
  const size_t dot = path.rfind('.');
  const std::string parent = dot == std::string::npos ? "" : path.substr(0, dot);
  add_section(parent);
  std::vector<std::string>& siblings = children_[parent];
  const std::string name = last_name(path);
  if (std::find(siblings.begin(), siblings.end(), name) == siblings.end()) siblings.push_back(name);
}

void KeyTree::add_value(const std::string& path) {
  if (!values_.insert(path).second) return;
  value_order_.push_back(path);
  const size_t dot = path.rfind('.');
  const std::string parent = dot == std::string::npos ? "" : path.substr(0, dot);
  add_section(parent);
  children_[parent].push_back(last_name(path));
}

std::string KeyTree::unknown_key_message(const std::string& section, const std::string& key,
                                         const std::string& full_key) const {
  std::string suggestion;
  // Whole paths only for a key that goes deeper than the unknown name ("modle.d_model"): for a single name,
  // the shared section prefix would make the allowed distance, which grows with length, too lenient.
  if (full_key != join_path(section, key)) suggestion = closest_match(full_key, value_order_);
  if (auto found = children_.find(section); suggestion.empty() && found != children_.end()) {
    const std::string near = closest_match(key, found->second);
    if (!near.empty()) suggestion = join_path(section, near);
  }
  if (suggestion.empty()) {
    for (const std::string& path : value_order_) {
      if (lowercase(last_name(path)) == lowercase(key)) {
        suggestion = path;
        break;
      }
    }
  }
  if (!suggestion.empty()) return "unknown key; did you mean " + suggestion + "?";
  return "unknown key; " + valid_keys(section);
}

std::string KeyTree::not_an_object_message(const std::string& section, const nlohmann::json& value) const {
  auto found = children_.find(section);
  const std::string keys = found == children_.end() ? "" : joined(found->second);
  const std::string what = section.empty() ? "a config" : "a section";
  return "must be an object (" + what + " with keys " + keys + "), got " + shown(value);
}

std::string KeyTree::valid_keys(const std::string& section) const {
  auto found = children_.find(section);
  const std::string keys = found == children_.end() ? "" : joined(found->second);
  return (section.empty() ? "valid top-level keys: " : "valid keys of " + section + ": ") + keys;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> names;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    names.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) return names;
    start = dot + 1;
  }
}

std::string join_path(const std::string& section, const std::string& key) {
  return section.empty() ? key : section + "." + key;
}

const nlohmann::json* value_at(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* node = &root;
  for (const std::string& name : split_path(path)) {
    if (!node->is_object()) return nullptr;
    auto found = node->find(name);
    if (found == node->end()) return nullptr;
    node = &*found;
  }
  return node;
}

}  // namespace mechlab::config_detail
