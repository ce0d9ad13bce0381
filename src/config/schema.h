// A declarative config schema: each key's path, type, default, range and meaning in one table, from which
// come validation with one-line errors, key=value overrides and the Markdown reference. Generic: the
// experiment's actual keys are declared elsewhere with it.
#pragma once
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mechlab {

// object_list: a list of JSON objects whose contents the schema does not know; its consumer checks them (the
// analysis entries of a run config, docs/analysis.md).
enum class ValueType { integer, number, boolean, string, choice, number_list, integer_list, boolean_list, object_list };

// One key of a config. The typed adders below fill it; add() takes one built by hand.
struct SchemaEntry {
  std::string path;  // dotted, e.g. "optim.lr"
  ValueType type = ValueType::string;
  nlohmann::json default_value;  // null = required (no default); use nlohmann::json::array() for []
  std::string description;       // one sentence, for docs and `mechlab tasks`
  double min = -std::numeric_limits<double>::infinity();  // numbers and integers (and list elements)
  double max = std::numeric_limits<double>::infinity();
  bool min_exclusive = false;        // e.g. lr > 0
  bool max_exclusive = false;        // e.g. beta2 < 1
  std::vector<std::string> choices;  // for choice
  bool scalar_or_list = false;       // number_list/integer_list: a single scalar is also accepted (kept as given)
  bool nullable = false;             // null is a value (the default when default_value is null): "not set"
};

class Schema {
 public:
  // Declaring a key twice, a key inside another key, a choice without choices or a default that fails its
  // own entry's checks is a programming error: std::invalid_argument. Defaults are stored as resolve()
  // would store them (numbers as doubles).
  Schema& add(SchemaEntry entry);

  Schema& integer(const std::string& path, nlohmann::json default_value, const std::string& description,
                  double min = -std::numeric_limits<double>::infinity(),
                  double max = std::numeric_limits<double>::infinity());
  Schema& number(const std::string& path, nlohmann::json default_value, const std::string& description,
                 double min = -std::numeric_limits<double>::infinity(),
                 double max = std::numeric_limits<double>::infinity(), bool min_exclusive = false);
  Schema& boolean(const std::string& path, nlohmann::json default_value, const std::string& description);
  Schema& string(const std::string& path, nlohmann::json default_value, const std::string& description);
  Schema& choice(const std::string& path, nlohmann::json default_value, std::vector<std::string> choices,
                 const std::string& description);
  Schema& number_list(const std::string& path, nlohmann::json default_value, const std::string& description,
                      double min = -std::numeric_limits<double>::infinity(),
                      double max = std::numeric_limits<double>::infinity(), bool min_exclusive = false,
                      bool scalar_or_list = false);
  Schema& integer_list(const std::string& path, nlohmann::json default_value, const std::string& description,
                       double min = -std::numeric_limits<double>::infinity(),
                       double max = std::numeric_limits<double>::infinity(), bool scalar_or_list = false);
  Schema& boolean_list(const std::string& path, nlohmann::json default_value, const std::string& description);
  // A list of objects, [] by default, whose contents its consumer checks.
  Schema& object_list(const std::string& path, const std::string& description);

  // A section whose keys depend on a value in the config: with prefix "task" and selector_key "task.name",
  // resolve() and apply_override() check task.name, then check every other task.* key against
  // *lookup(task.name), whose entry paths are relative ("seq_len" is task.seq_len). lookup returns nullptr
  // for an unknown value; known() lists the valid values for that error and for markdown(). Errors call
  // the value by the prefix's last word: "unknown task 'x'; known tasks: a, b". If selector_key is not
  // declared yet it is declared here as a required string. The looked-up schemas must outlive this one;
  // their own dynamic sections are not consulted.
  Schema& section_by(const std::string& prefix, const std::string& selector_key,
                     std::function<const Schema*(const std::string& selector_value)> lookup,
                     std::function<std::vector<std::string>()> known);

  // The entry declared with exactly this path, or nullptr. Keys of dynamic sections are not found here.
  const SchemaEntry* find(const std::string& path) const;
  const std::vector<SchemaEntry>& entries() const;

  // Validates a user config and returns it with every default filled in, nested the same way. Throws
  // ConfigError on the first problem. Order: first the keys the user wrote (in the object's iteration order,
  // which for nlohmann::json is sorted) so a misspelt key is reported as such rather than as the missing
  // key it was meant to be; then each dynamic section's selector; then the keys inside dynamic sections;
  // then every entry in declaration order (a dynamic section's entries right after its selector).
  // Numbers come back as doubles, integers as integers (a whole number written 1e5 becomes 100000).
  nlohmann::json resolve(const nlohmann::json& user) const;

  // Applies one command-line override "a.b.c=value" to the user config (before resolve()), parsing value
  // by the entry's type, checking it as resolve() would, and creating intermediate objects. A key of a
  // dynamic section needs its selector already in `user` (from the file or an earlier override).
  void apply_override(nlohmann::json& user, const std::string& assignment) const;

  // The reference: one table per top-level section (top-level keys first), columns key, type, default,
  // meaning; a dynamic section gets one more table per known selector value.
  std::string markdown() const;

 private:
  struct DynamicSection {
    std::string prefix;
    std::string selector_key;
    std::function<const Schema*(const std::string&)> lookup;
    std::function<std::vector<std::string>()> known;
  };

  // The schema that `section`'s selector picks in `user` (or its default). Throws ConfigError on the
  // selector when it is missing (mentioning `needed_by`, an override's key, when not empty), mistyped or unknown.
  const Schema& selected_schema(const DynamicSection& section, const nlohmann::json& user,
                                const std::string& needed_by) const;
  const Schema& schema_for_selector_value(const DynamicSection& section, const nlohmann::json& value) const;
  // The selected schema's entries with full paths ("task.seq_len").
  static std::vector<SchemaEntry> with_prefix(const DynamicSection& section, const Schema& selected);
  std::vector<std::string> dynamic_prefixes() const;
  // What a dynamic section's values are called in messages: the prefix's last name ("task").
  static std::string noun(const std::string& prefix);

  std::vector<SchemaEntry> entries_;
  std::vector<DynamicSection> dynamic_sections_;
};

}  // namespace mechlab
