// Checking one value against one schema entry, and the words for it. resolve(), apply_override() and
// markdown() all use these, so a mistake reads the same whether it came from a file or the command line.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config/schema.h"

namespace mechlab::config_detail {

// The value as the resolved config holds it (numbers as doubles, a whole float in an integer field as an
// integer). Throws ConfigError(path, ...): "must be an integer >= 1, got 3.5", "must be >= 1, got 0",
// "must be a finite number, got nan", "must be one of a, b, got 'c'", list elements at "path[i]".
nlohmann::json check_value(const SchemaEntry& entry, const nlohmann::json& value, const std::string& path);

// What the entry accepts, as the end of "must be ...": "an integer >= 1", "a list of numbers > 0",
// "a number > 0 or a list of them", "true or false", "one of softmax, relu".
std::string expected_phrase(const SchemaEntry& entry);
// ">= 1", "> 0 and <= 1", or "" without bounds.
std::string range_phrase(const SchemaEntry& entry);
// The type column of the reference: "integer", "list of numbers", "number or list of numbers".
std::string type_name(const SchemaEntry& entry);
// "required key is missing; set it to <expected> (<description>)".
std::string required_message(const SchemaEntry& entry);
// A user's value inside a message: strings in single quotes, numbers and booleans as written, nan/inf by name.
std::string shown(const nlohmann::json& value);

ValueType element_type(ValueType type);  // number_list -> number ...; scalars map to themselves
bool is_list(ValueType type);
std::string joined(const std::vector<std::string>& words, const std::string& separator = ", ");
// Whether `name` can name a directory under results/ as it is: letters, digits, '.', '_' and '-', not starting
// with '.' (so neither "." nor ".." nor hidden). Run and sweep names.
bool is_plain_name(const std::string& name);

}  // namespace mechlab::config_detail
