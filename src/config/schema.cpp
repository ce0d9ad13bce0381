// Declaring a schema: entries checked as they are added (a bad declaration is a programming error, caught
// at startup by any test that builds the schema), and the selection of a dynamic section's schema.
#include "config/schema.h"

#include <stdexcept>

#include "config/closest.h"
#include "config/config_error.h"
#include "config/key_tree.h"
#include "config/value_check.h"

namespace mechlab {

using config_detail::check_value;
using config_detail::joined;
using nlohmann::json;

namespace {

bool is_inside(const std::string& path, const std::string& section) {
  return path.size() > section.size() && path.compare(0, section.size(), section) == 0 && path[section.size()] == '.';
}

void check_declaration(const SchemaEntry& entry, const std::vector<SchemaEntry>& declared) {
  auto reject = [&entry](const std::string& why) {
    throw std::invalid_argument("schema entry '" + entry.path + "': " + why);
  };
  for (const std::string& name : config_detail::split_path(entry.path)) {
    if (name.empty() || name.find_first_of("[]= ") != std::string::npos) reject("malformed path");
  }
  for (const SchemaEntry& other : declared) {
    if (other.path == entry.path) reject("declared twice");
    if (is_inside(entry.path, other.path) || is_inside(other.path, entry.path)) {
      reject("conflicts with '" + other.path + "' (a key cannot also be a section)");
    }
  }
  if (entry.type == ValueType::choice && entry.choices.empty()) reject("a choice needs choices");
  if (entry.scalar_or_list && entry.type != ValueType::number_list && entry.type != ValueType::integer_list) {
    reject("scalar_or_list applies to number_list and integer_list only");
  }
  if (!(entry.min <= entry.max)) reject("min > max");
}

SchemaEntry entry_of(const std::string& path, ValueType type, json default_value, const std::string& description) {
  SchemaEntry entry;
  entry.path = path;
  entry.type = type;
  entry.default_value = std::move(default_value);
  entry.description = description;
  return entry;
}

}  // namespace

Schema& Schema::add(SchemaEntry entry) {
  check_declaration(entry, entries_);
  if (!entry.default_value.is_null()) {
    try {
      entry.default_value = check_value(entry, entry.default_value, entry.path);
    } catch (const ConfigError& error) {
      throw std::invalid_argument(std::string("schema default of ") + error.what());
    }
  }
  entries_.push_back(std::move(entry));
  return *this;
}

Schema& Schema::integer(const std::string& path, json default_value, const std::string& description, double min,
                        double max) {
  SchemaEntry entry = entry_of(path, ValueType::integer, std::move(default_value), description);
  entry.min = min;
  entry.max = max;
  return add(std::move(entry));
}

Schema& Schema::number(const std::string& path, json default_value, const std::string& description, double min,
                       double max, bool min_exclusive) {
  SchemaEntry entry = entry_of(path, ValueType::number, std::move(default_value), description);
  entry.min = min;
  entry.max = max;
  entry.min_exclusive = min_exclusive;
  return add(std::move(entry));
}

Schema& Schema::boolean(const std::string& path, json default_value, const std::string& description) {
  SchemaEntry entry = entry_of(path, ValueType::boolean, std::move(default_value), description);
  return add(std::move(entry));
}

Schema& Schema::string(const std::string& path, json default_value, const std::string& description) {
  SchemaEntry entry = entry_of(path, ValueType::string, std::move(default_value), description);
  return add(std::move(entry));
}

Schema& Schema::choice(const std::string& path, json default_value, std::vector<std::string> choices,
                       const std::string& description) {
  SchemaEntry entry = entry_of(path, ValueType::choice, std::move(default_value), description);
  entry.choices = std::move(choices);
  return add(std::move(entry));
}

Schema& Schema::number_list(const std::string& path, json default_value, const std::string& description, double min,
                            double max, bool min_exclusive, bool scalar_or_list) {
  SchemaEntry entry = entry_of(path, ValueType::number_list, std::move(default_value), description);
  entry.min = min;
  entry.max = max;
  entry.min_exclusive = min_exclusive;
  entry.scalar_or_list = scalar_or_list;
  return add(std::move(entry));
}

Schema& Schema::integer_list(const std::string& path, json default_value, const std::string& description, double min,
                             double max, bool scalar_or_list) {
  SchemaEntry entry = entry_of(path, ValueType::integer_list, std::move(default_value), description);
  entry.min = min;
  entry.max = max;
  entry.scalar_or_list = scalar_or_list;
  return add(std::move(entry));
}

Schema& Schema::boolean_list(const std::string& path, json default_value, const std::string& description) {
  SchemaEntry entry = entry_of(path, ValueType::boolean_list, std::move(default_value), description);
  return add(std::move(entry));
}

Schema& Schema::object_list(const std::string& path, const std::string& description) {
  return add(entry_of(path, ValueType::object_list, json::array(), description));
}

Schema& Schema::section_by(const std::string& prefix, const std::string& selector_key,
                           std::function<const Schema*(const std::string&)> lookup,
                           std::function<std::vector<std::string>()> known) {
  if (!lookup || !known) throw std::invalid_argument("section_by '" + prefix + "': lookup and known are required");
  for (const DynamicSection& other : dynamic_sections_) {
    if (other.prefix == prefix) throw std::invalid_argument("section_by '" + prefix + "': declared twice");
  }
  if (!find(selector_key)) {
    string(selector_key, nullptr, "Which " + noun(prefix) + " to run; its keys go in the " + prefix + " section.");
  }
  dynamic_sections_.push_back({prefix, selector_key, std::move(lookup), std::move(known)});
  return *this;
}

const SchemaEntry* Schema::find(const std::string& path) const {
  for (const SchemaEntry& entry : entries_) {
    if (entry.path == path) return &entry;
  }
  return nullptr;
}

const std::vector<SchemaEntry>& Schema::entries() const { return entries_; }

std::string Schema::noun(const std::string& prefix) { return config_detail::split_path(prefix).back(); }

const Schema& Schema::selected_schema(const DynamicSection& section, const json& user,
                                      const std::string& needed_by) const {
  const SchemaEntry& selector = *find(section.selector_key);
  const json* value = config_detail::value_at(user, section.selector_key);
  if (!value && selector.default_value.is_null()) {
    if (!needed_by.empty()) {
      throw ConfigError(section.selector_key, "must be set before " + needed_by +
                                                  "; put it in the config or override " + section.selector_key +
                                                  "=... earlier on the command line");
    }
    throw ConfigError(section.selector_key, "required key is missing; set it to one of the known " +
                                                noun(section.prefix) + "s: " + joined(section.known()));
  }
  return schema_for_selector_value(section, value ? *value : selector.default_value);
}

const Schema& Schema::schema_for_selector_value(const DynamicSection& section, const json& value) const {
  const json checked = check_value(*find(section.selector_key), value, section.selector_key);
  const std::string name = checked.is_string() ? checked.get<std::string>() : checked.dump();
  if (const Schema* selected = section.lookup(name)) return *selected;
  const std::string what = noun(section.prefix);
  const std::vector<std::string> known = section.known();
  const std::string near = closest_match(name, known);
  throw ConfigError(section.selector_key, "unknown " + what + " '" + name + "'; " +
                                              (near.empty() ? "" : "did you mean " + near + "? ") + "known " + what +
                                              "s: " + joined(known));
}

std::vector<SchemaEntry> Schema::with_prefix(const DynamicSection& section, const Schema& selected) {
  std::vector<SchemaEntry> entries = selected.entries_;
  for (SchemaEntry& entry : entries) entry.path = section.prefix + "." + entry.path;
  return entries;
}

std::vector<std::string> Schema::dynamic_prefixes() const {
  std::vector<std::string> prefixes;
  for (const DynamicSection& section : dynamic_sections_) prefixes.push_back(section.prefix);
  return prefixes;
}

}  // namespace mechlab
