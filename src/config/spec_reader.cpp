#include "config/spec_reader.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/closest.h"
#include "config/config_error.h"
#include "config/value_check.h"

namespace mechlab {

using config_detail::joined;

SpecReader::SpecReader(const nlohmann::json& entry, std::string path, std::string what, const std::string& example)
    : entry_(entry), path_(std::move(path)), what_(std::move(what)) {
  if (!entry_.is_object()) throw ConfigError(path_.empty() ? "(top level)" : path_, "must be an object such as " + example);
}

const nlohmann::json& SpecReader::raw(const std::string& key) const { return entry_.at(key); }

std::string SpecReader::string(const std::string& key, const std::string& fallback) const {
  if (!has(key)) return fallback;
  if (!entry_[key].is_string()) throw ConfigError(at(key), "must be a string");
  return entry_[key].get<std::string>();
}

std::string SpecReader::required_string(const std::string& key) const {
  if (!has(key)) throw ConfigError(at(key), "is missing");
  return string(key, "");
}

std::string SpecReader::choice(const std::string& key, const std::vector<std::string>& choices,
                               const std::string& fallback) const {
  const std::string value = string(key, fallback);
  if (std::find(choices.begin(), choices.end(), value) != choices.end()) return value;
  const std::string near = closest_match(value, choices);
  throw ConfigError(at(key), fmt::format("'{}' is not one of {}{}", value, joined(choices),
                                         near.empty() ? "" : "; did you mean " + near + "?"));
}

int64_t SpecReader::integer(const std::string& key, int64_t fallback, int64_t min, int64_t max) const {
  if (!has(key)) return fallback;
  const nlohmann::json& v = entry_[key];
  if (!v.is_number_integer()) throw ConfigError(at(key), "must be an integer");
  const int64_t value = v.get<int64_t>();
  if (value < min || value > max) throw ConfigError(at(key), fmt::format("is {}; it must be in [{}, {}]", value, min, max));
  return value;
}

bool SpecReader::boolean(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  if (!entry_[key].is_boolean()) throw ConfigError(at(key), "must be true or false");
  return entry_[key].get<bool>();
}

void SpecReader::only(const std::vector<std::string>& known) const {
  for (const auto& [key, value] : entry_.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      const std::string near = closest_match(key, known);
      throw ConfigError(at(key), fmt::format("is not a key of {}{}; its keys: {}", what_,
                                             near.empty() ? "" : "; did you mean " + near + "?", joined(known)));
    }
}

}  // namespace mechlab
