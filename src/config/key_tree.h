// The shape a schema gives a config: which dotted paths hold values, which are sections, and what each
// section may contain. Used to name an unknown key together with the key the user probably meant.
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace mechlab::config_detail {

class KeyTree {
 public:
  // A value's path; each of its prefixes becomes a section.
  void add_value(const std::string& path);
  void add_section(const std::string& path);

  bool is_value(const std::string& path) const { return values_.count(path) > 0; }
  bool is_section(const std::string& path) const { return children_.count(path) > 0; }

  // "unknown key; did you mean optim.lr?" for `key` inside `section` ("" = top level). The suggestion is
  // the value path closest to `full_key` when that goes deeper than `key` (an override "modle.d_model" finds
  // model.d_model), else the closest name in that section, else a value elsewhere with the same last name
  // (a key put in the wrong section). Without one:
  // "unknown key; valid keys of optim: lr, betas" / "unknown key; valid top-level keys: name, seed".
  std::string unknown_key_message(const std::string& section, const std::string& key,
                                  const std::string& full_key) const;
  // For a section given a non-object: "must be an object (a section with keys d_model, n_layers), got 3".
  std::string not_an_object_message(const std::string& section, const nlohmann::json& value) const;
  // "valid keys of optim: lr, betas" / "valid top-level keys: ...".
  std::string valid_keys(const std::string& section) const;

 private:
  std::map<std::string, std::vector<std::string>> children_;  // section -> names in declaration order
  std::set<std::string> values_;
  std::vector<std::string> value_order_;
};

std::vector<std::string> split_path(const std::string& path);               // "a.b.c" -> {a, b, c}
std::string join_path(const std::string& section, const std::string& key);  // ("", k) -> k
// The value at a dotted path, or nullptr when some step is missing or not an object.
const nlohmann::json* value_at(const nlohmann::json& root, const std::string& path);

}  // namespace mechlab::config_detail
