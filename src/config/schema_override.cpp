// Schema::apply_override: one "key=value" from the command line, parsed by the key's declared type (so
// "model.d_model=64" is an integer and "name=64" a string) and checked as resolve() would check it.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>

#include "config/config_error.h"
#include "config/json_file.h"
#include "config/key_tree.h"
#include "config/schema.h"
#include "config/value_check.h"

namespace mechlab {
namespace {

using namespace config_detail;
using nlohmann::json;

std::string trimmed(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

std::string lowercase(std::string word) {
  for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return word;
}

// from_chars rather than strtod: strtod follows the C locale's decimal separator, from_chars never does.
bool parse_double(const std::string& text, double& x) {
  const bool plus = !text.empty() && text[0] == '+';  // from_chars refuses the '+' that strtod accepts
  const std::string digits = plus ? text.substr(1) : text;
  if (digits.empty() || (plus && digits[0] == '-')) return false;
  const char* end = digits.data() + digits.size();
  auto [stop, error] = std::from_chars(digits.data(), end, x);
  return error == std::errc() && stop == end;
}

[[noreturn]] void unparsable(const std::string& path, const std::string& expected, const std::string& text) {
  constexpr size_t kShown = 60;
  throw ConfigError(path, "expects " + expected + ", got '" +
                              (text.size() <= kShown ? text : text.substr(0, kShown) + "...") + "'");
}

// One value of a scalar type from its text; `text` is already trimmed.
json parse_scalar(ValueType type, const std::string& text, const std::string& path) {
  switch (type) {
    case ValueType::integer: {
      int64_t n = 0;
      auto [stop, error] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (!text.empty() && error == std::errc() && stop == text.data() + text.size()) return n;
      // 1e5 is how researchers write step counts; resolve() accepts the same whole floats.
      double x = 0;
      if (parse_double(text, x) && std::isfinite(x) && x == std::floor(x) && std::abs(x) <= 9007199254740992.0) {
        return static_cast<int64_t>(x);
      }
      unparsable(path, "an integer", text);
    }
    case ValueType::number: {
      double x = 0;
      if (!parse_double(text, x) || !std::isfinite(x)) unparsable(path, "a finite number", text);
      return x;
    }
    case ValueType::boolean: {
      const std::string word = lowercase(text);
      if (word == "true" || word == "yes" || word == "1") return true;
      if (word == "false" || word == "no" || word == "0") return false;
      unparsable(path, "true or false (or yes/no, 1/0)", text);
    }
    default:
      return text;
  }
}

std::string list_example(ValueType element) {
  switch (element) {
    case ValueType::integer:
      return "a list like [1, 2] or 1,2";
    case ValueType::number:
      return "a list like [1e-3, 3e-3] or 1e-3,3e-3";
    default:
      return "a list like [true, false] or true,false";
  }
}

json parse_text(const SchemaEntry& entry, const std::string& raw, const std::string& path) {
  if (entry.nullable && trimmed(raw) == "null") return nullptr;
  if (entry.type == ValueType::string || entry.type == ValueType::choice) return raw;
  const std::string text = trimmed(raw);
  if (entry.type == ValueType::object_list) {
    try {
      return parse_json_text(text, path);  // checked as a list of objects by the caller, as resolve() would
    } catch (const ConfigError&) {
      unparsable(path, "a JSON list of objects, e.g. '[{\"name\": \"heads\", \"kind\": \"ablation\"}]'", text);
    }
  }
  if (!is_list(entry.type)) return parse_scalar(entry.type, text, path);
  const ValueType element = element_type(entry.type);
  if (!text.empty() && text[0] == '[') {
    json list;
    try {
      list = parse_json_text(text, path);  // with its depth and range checks
    } catch (const ConfigError&) {
      unparsable(path, list_example(element), text);
    }
    if (!list.is_array()) unparsable(path, list_example(element), text);
    return list;
  }
  if (text.empty()) unparsable(path, list_example(element) + " ([] for none)", text);
  if (entry.scalar_or_list && text.find(',') == std::string::npos) return parse_scalar(element, text, path);
  json list = json::array();
  size_t start = 0;
  for (size_t index = 0;; ++index) {
    const size_t comma = text.find(',', start);
    list.push_back(
        parse_scalar(element, trimmed(text.substr(start, comma - start)), path + "[" + std::to_string(index) + "]"));
    if (comma == std::string::npos) return list;
    start = comma + 1;
  }
}

// Why `key` names no entry: walk it down the tree to the first name that is not there.
std::string unknown_override_message(const KeyTree& tree, const std::string& key) {
  std::string section;
  for (const std::string& name : split_path(key)) {
    const std::string path = join_path(section, name);
    if (tree.is_value(path)) return "unknown key; " + path + " is a value, not a section";
    if (!tree.is_section(path)) return tree.unknown_key_message(section, name, key);
    section = path;
  }
  return "a section cannot be set as a whole; set one of its keys (" + tree.valid_keys(section) + ")";
}

}  // namespace

void Schema::apply_override(json& user, const std::string& assignment) const {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos) {
    throw ConfigError(trimmed(assignment), "missing '='; an override is key=value, e.g. " +
                                               (entries_.empty() ? std::string("a.b") : entries_.front().path) +
                                               "=...");
  }
  const std::string key = trimmed(assignment.substr(0, equals));
  const std::string text = assignment.substr(equals + 1);
  if (key.empty()) throw ConfigError(assignment, "missing key before '='; an override is key=value");

  // The entries this key may name: the static ones, plus those of the dynamic section the key is in.
  std::vector<SchemaEntry> visible = entries_;
  const SchemaEntry* entry = find(key);
  for (const DynamicSection& section : dynamic_sections_) {
    if (entry || key.compare(0, section.prefix.size() + 1, section.prefix + ".") != 0) continue;
    const std::vector<SchemaEntry> added = with_prefix(section, selected_schema(section, user, key));
    visible.insert(visible.end(), added.begin(), added.end());
  }
  SchemaEntry target;
  bool known = false;
  for (const SchemaEntry& candidate : visible) {
    if (candidate.path == key) {
      target = candidate;
      known = true;
      break;
    }
  }
  if (!known) {
    KeyTree tree;
    tree.add_section("");
    for (const SchemaEntry& candidate : visible) tree.add_value(candidate.path);
    for (const std::string& prefix : dynamic_prefixes()) tree.add_section(prefix);
    throw ConfigError(key, unknown_override_message(tree, key));
  }

  json value = check_value(target, parse_text(target, text, key), key);
  // A mistyped selector is reported here, where the user typed it, not later by resolve().
  for (const DynamicSection& section : dynamic_sections_) {
    if (section.selector_key == key) schema_for_selector_value(section, value);
  }

  if (user.is_null()) user = json::object();
  if (!user.is_object()) throw ConfigError("(top level)", "must be an object, got " + shown(user));
  json* node = &user;
  std::string path;
  const std::vector<std::string> names = split_path(key);
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    path = join_path(path, names[i]);
    json& child = (*node)[names[i]];
    if (child.is_null()) child = json::object();
    if (!child.is_object()) throw ConfigError(path, "must be an object (a section), got " + shown(child));
    node = &child;
  }
  (*node)[names.back()] = std::move(value);
}

}  // namespace mechlab
