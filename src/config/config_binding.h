// One declaration per config key: bind() ties a dotted key to the struct field it fills. The field's
// initializer is the key's default, its C++ type gives the key's type (an enum's names come from
// config/enum_names.h), and read() copies every resolved value into its field, so the schema, the
// defaults and the struct cannot disagree.
#pragma once
#include <concepts>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/enum_names.h"
#include "config/key_tree.h"
#include "config/schema.h"

namespace mechlab {

// What a key allows beyond its type (designated initializers read well: {.min = 1, .max = 64}).
struct KeyLimits {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;
  bool max_exclusive = false;
  bool required = false;        // no default: the config must set it
  bool scalar_or_list = false;  // a list key that also takes one value
};

namespace config_detail {
template <typename T>
inline constexpr bool is_optional = false;
template <typename T>
inline constexpr bool is_optional<std::optional<T>> = true;
}  // namespace config_detail

namespace config_detail {
template <typename T>
inline constexpr bool is_vector = false;
template <typename T>
inline constexpr bool is_vector<std::vector<T>> = true;
}  // namespace config_detail

template <typename Config>
class ConfigBinding {
 public:
  // `field` maps a Config to the field the key fills: [](Config& c) -> auto& { return c.model.d_model; }.
  template <typename Access>
  ConfigBinding& bind(const std::string& path, Access field, const std::string& description, KeyLimits limits = {}) {
    using Field = std::remove_reference_t<std::invoke_result_t<Access, Config&>>;
    Config defaults{};
    SchemaEntry entry;
    entry.path = path;
    entry.type = value_type<Field>();
    entry.nullable = config_detail::is_optional<Field>;  // std::optional: null means "not set"
    entry.description = description;
    entry.min = limits.min;
    entry.max = limits.max;
    entry.min_exclusive = limits.min_exclusive;
    entry.max_exclusive = limits.max_exclusive;
    entry.scalar_or_list = limits.scalar_or_list;
    if constexpr (std::is_enum_v<Field>) entry.choices = names_of<Field>();
    entry.default_value = limits.required ? nlohmann::json() : to_json(field(defaults), limits.scalar_or_list);
    schema_.add(std::move(entry));
    readers_.push_back([path, field](const nlohmann::json& resolved, Config& config) {
      from_json(*config_detail::value_at(resolved, path), field(config));
    });
    return *this;
  }

  Schema& schema() { return schema_; }
  const Schema& schema() const { return schema_; }

  // Every bound field of a default Config set from a config that schema().resolve() returned.
  Config read(const nlohmann::json& resolved) const {
    Config config{};
    for (const auto& reader : readers_) reader(resolved, config);
    return config;
  }

 private:
  template <typename Field>
  static constexpr ValueType value_type() {
    if constexpr (config_detail::is_optional<Field>) return value_type<typename Field::value_type>();
    else if constexpr (std::is_same_v<Field, bool>) return ValueType::boolean;
    else if constexpr (std::is_enum_v<Field>) return ValueType::choice;
    else if constexpr (std::is_integral_v<Field>) return ValueType::integer;
    else if constexpr (std::is_floating_point_v<Field>) return ValueType::number;
    else if constexpr (std::is_same_v<Field, std::string>) return ValueType::string;
    else if constexpr (std::is_same_v<Field, nlohmann::json>) return ValueType::object_list;
    else if constexpr (std::is_same_v<Field, std::vector<bool>>) return ValueType::boolean_list;
    else if constexpr (std::is_same_v<Field, std::vector<double>>) return ValueType::number_list;
    else if constexpr (config_detail::is_vector<Field> && std::is_integral_v<typename Field::value_type>) return ValueType::integer_list;
    else static_assert(sizeof(Field) == 0, "no config type for this field");
  }

  template <typename Field>
  static nlohmann::json to_json(const Field& value, bool scalar_or_list) {
    if constexpr (config_detail::is_optional<Field>) {
      return value ? to_json(*value, scalar_or_list) : nlohmann::json();
    } else if constexpr (std::is_enum_v<Field>) {
      return name_of(value);
    } else if constexpr (config_detail::is_vector<Field>) {
      if (scalar_or_list && value.size() == 1) return nlohmann::json(value[0]);
      nlohmann::json list = nlohmann::json::array();
      for (const auto& element : value) list.push_back(element);
      return list;
    } else {
      return value;
    }
  }

  template <typename Field>
  static void from_json(const nlohmann::json& value, Field& field) {
    if constexpr (config_detail::is_optional<Field>) {
      if (value.is_null()) {
        field.reset();
      } else {
        field.emplace();
        from_json(value, *field);
      }
    } else if constexpr (std::is_enum_v<Field>) {
      field = enum_from_name<Field>(value.get<std::string>());
    } else if constexpr (config_detail::is_vector<Field>) {
      field = value.is_array() ? value.get<Field>() : Field{value.get<typename Field::value_type>()};
    } else {
      field = value.get<Field>();
    }
  }

  Schema schema_;
  std::vector<std::function<void(const nlohmann::json&, Config&)>> readers_;
};

}  // namespace mechlab
