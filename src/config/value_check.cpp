// check_value and its phrases. Integers accept a float only when it is a whole number exactly representable
// in a double (so "steps": 1e5 works, as researchers write it), never 3.5, "3" or true.
#include "config/value_check.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "config/config_error.h"
#include "config/utf8.h"

namespace mechlab::config_detail {
namespace {

using nlohmann::json;

std::string bound(double x) { return fmt::format("{}", x); }

std::string with_range(const std::string& words, const SchemaEntry& entry) {
  const std::string range = range_phrase(entry);
  return range.empty() ? words : words + " " + range;
}

// The phrase for one value of `type` (a scalar type or a list's element type).
std::string scalar_phrase(const SchemaEntry& entry, ValueType type) {
  switch (type) {
    case ValueType::integer:
      return with_range("an integer", entry);
    case ValueType::number:
      return with_range("a number", entry);
    case ValueType::boolean:
      return "true or false";
    case ValueType::string:
      return "a string";
    case ValueType::choice:
      return "one of " + joined(entry.choices);
    case ValueType::object_list:
      return "a list of objects";
    default:
      return "";
  }
}

[[noreturn]] void fail(const std::string& path, const std::string& expected, const json& value) {
  throw ConfigError(path, "must be " + expected + ", got " + shown(value));
}

void check_range(const SchemaEntry& entry, double x, const json& value, const std::string& path) {
  if (std::isfinite(entry.min) && (entry.min_exclusive ? !(x > entry.min) : !(x >= entry.min))) {
    fail(path, (entry.min_exclusive ? "> " : ">= ") + bound(entry.min), value);
  }
  if (std::isfinite(entry.max) && (entry.max_exclusive ? !(x < entry.max) : !(x <= entry.max))) {
    fail(path, (entry.max_exclusive ? "< " : "<= ") + bound(entry.max), value);
  }
}

// Only UTF-8 can be stored in the run's JSON files; a stray byte from an override would fail there.
void check_utf8(const json& value, const std::string& path) {
  const std::string problem = utf8_problem(value.get_ref<const std::string&>());
  if (!problem.empty()) throw ConfigError(path, "must be UTF-8 text, but " + problem);
}

json check_scalar(const SchemaEntry& entry, ValueType type, const json& value, const std::string& path) {
  switch (type) {
    case ValueType::integer: {
      json integer = value;
      if (value.is_number_float()) {
        const double x = value.get<double>();
        const bool whole = std::isfinite(x) && x == std::floor(x) && std::abs(x) <= 9007199254740992.0;  // 2^53
        if (!whole) fail(path, scalar_phrase(entry, type), value);
        integer = static_cast<int64_t>(x);
      } else if (!value.is_number_integer()) {
        fail(path, scalar_phrase(entry, type), value);
      }
      check_range(entry, integer.get<double>(), value, path);
      return integer;
    }
    case ValueType::number: {
      if (!value.is_number()) fail(path, scalar_phrase(entry, type), value);
      const double x = value.get<double>();
      if (!std::isfinite(x)) fail(path, "a finite number", value);
      check_range(entry, x, value, path);
      return x;
    }
    case ValueType::boolean:
      if (!value.is_boolean()) fail(path, scalar_phrase(entry, type), value);
      return value;
    case ValueType::string:
      if (!value.is_string()) fail(path, scalar_phrase(entry, type), value);
      check_utf8(value, path);
      return value;
    case ValueType::choice: {
      if (value.is_string()) check_utf8(value, path);
      const auto& choices = entry.choices;
      if (!value.is_string() || std::find(choices.begin(), choices.end(), value.get<std::string>()) == choices.end()) {
        fail(path, scalar_phrase(entry, type), value);
      }
      return value;
    }
    case ValueType::object_list:
      if (!value.is_array()) fail(path, scalar_phrase(entry, type), value);
      for (size_t i = 0; i < value.size(); ++i)
        if (!value[i].is_object()) fail(path + "[" + std::to_string(i) + "]", "an object", value[i]);
      return value;
    default:
      return value;
  }
}

// Whether a scalar has the JSON kind of the list's elements, so that a bad single value of a
// scalar_or_list entry is reported as a range error rather than as "must be a number or a list".
bool scalar_of_kind(ValueType element, const json& value) {
  return element == ValueType::boolean ? value.is_boolean() : value.is_number();
}

std::string plural(ValueType element) {
  switch (element) {
    case ValueType::integer:
      return "integers";
    case ValueType::number:
      return "numbers";
    default:
      return "booleans";
  }
}

}  // namespace

json check_value(const SchemaEntry& entry, const json& value, const std::string& path) {
  if (entry.nullable && value.is_null()) return value;
  if (!is_list(entry.type)) return check_scalar(entry, entry.type, value, path);
  const ValueType element = element_type(entry.type);
  if (value.is_array()) {
    json list = json::array();
    for (size_t i = 0; i < value.size(); ++i) {
      list.push_back(check_scalar(entry, element, value[i], path + "[" + std::to_string(i) + "]"));
    }
    return list;
  }
  if (entry.scalar_or_list && scalar_of_kind(element, value)) return check_scalar(entry, element, value, path);
  fail(path, expected_phrase(entry), value);
}

std::string expected_phrase(const SchemaEntry& entry) {
  if (entry.nullable) return scalar_phrase(entry, entry.type) + " or null";
  if (!is_list(entry.type)) return scalar_phrase(entry, entry.type);
  const ValueType element = element_type(entry.type);
  if (entry.scalar_or_list) return scalar_phrase(entry, element) + " or a list of them";
  return with_range("a list of " + plural(element), entry);
}

std::string range_phrase(const SchemaEntry& entry) {
  std::vector<std::string> parts;
  if (std::isfinite(entry.min)) parts.push_back((entry.min_exclusive ? "> " : ">= ") + bound(entry.min));
  if (std::isfinite(entry.max)) parts.push_back((entry.max_exclusive ? "< " : "<= ") + bound(entry.max));
  return joined(parts, " and ");
}

std::string type_name(const SchemaEntry& entry) {
  if (entry.nullable) {
    SchemaEntry plain = entry;
    plain.nullable = false;
    return type_name(plain) + " or null";
  }
  switch (entry.type) {
    case ValueType::integer:
      return "integer";
    case ValueType::number:
      return "number";
    case ValueType::boolean:
      return "boolean";
    case ValueType::string:
      return "string";
    case ValueType::choice:
      return "choice";
    case ValueType::object_list:
      return "list of objects";
    default:
      break;
  }
  const ValueType element = element_type(entry.type);
  const std::string list = "list of " + plural(element);
  if (!entry.scalar_or_list) return list;
  return (element == ValueType::integer ? "integer or " : "number or ") + list;
}

std::string required_message(const SchemaEntry& entry) {
  std::string description = entry.description;
  if (!description.empty() && description.back() == '.') description.pop_back();
  std::string message = "required key is missing; set it to " + expected_phrase(entry);
  return description.empty() ? message : message + " (" + description + ")";
}

std::string shown(const json& value) {
  // Appending rather than "'" + text: GCC 12 warns (-Wrestrict, falsely) on literal + temporary string.
  if (value.is_string()) return std::string("'").append(value.get<std::string>()).append("'");
  if (value.is_object()) return "an object";
  if (value.is_number_float()) {
    const double x = value.get<double>();
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  }
  if (value.is_array()) {
    const std::string text = value.dump();
    return text.size() <= 40 ? text : "a list of " + std::to_string(value.size()) + " values";
  }
  return value.dump();
}

ValueType element_type(ValueType type) {
  switch (type) {
    case ValueType::number_list:
      return ValueType::number;
    case ValueType::integer_list:
      return ValueType::integer;
    case ValueType::boolean_list:
      return ValueType::boolean;
    default:
      return type;
  }
}

bool is_list(ValueType type) { return element_type(type) != type; }

bool is_plain_name(const std::string& name) {
  return !name.empty() && name[0] != '.' &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == std::string::npos;
}

std::string joined(const std::vector<std::string>& words, const std::string& separator) {
  std::string text;
  for (size_t i = 0; i < words.size(); ++i) text += (i == 0 ? "" : separator) + words[i];
  return text;
}

}  // namespace mechlab::config_detail
