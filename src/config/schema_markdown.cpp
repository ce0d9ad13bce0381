// Schema::markdown: the config reference generated from the same entries that validate configs, so the
// documentation cannot drift from what mechlab accepts.
#include <map>

#include "config/key_tree.h"
#include "config/schema.h"
#include "config/value_check.h"

namespace mechlab {
namespace {

using namespace config_detail;

std::string cell(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c == '\n' ? ' ' : c;
  }
  return escaped;
}

std::string meaning(const SchemaEntry& entry) {
  std::string text = entry.description;
  auto sentence = [&text](const std::string& more) { text += (text.empty() ? "" : " ") + more; };
  const std::string range = range_phrase(entry);
  if (!range.empty()) sentence((is_list(entry.type) ? "Each element must be " : "Must be ") + range + ".");
  if (entry.type == ValueType::choice) {
    std::vector<std::string> quoted;
    for (const std::string& choice : entry.choices) quoted.push_back("`" + choice + "`");
    sentence("One of " + joined(quoted) + ".");
  }
  if (entry.scalar_or_list) sentence("A single value is also accepted.");
  return cell(text);
}

std::string row(const SchemaEntry& entry, const std::string& path) {
  const std::string default_text =
      entry.default_value.is_null() && !entry.nullable ? "required"
                                                        : std::string("`").append(entry.default_value.dump()).append("`");
  return "| `" + path + "` | " + type_name(entry) + " | " + cell(default_text) + " | " + meaning(entry) + " |\n";
}

std::string table_head(const std::string& title, const std::string& level) {
  return level + " " + title + "\n\n| key | type | default | meaning |\n|---|---|---|---|\n";
}

std::string top_name(const std::string& path) {
  const size_t dot = path.find('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

}  // namespace

std::string Schema::markdown() const {
  // Sections in the order their first key was declared, the top-level keys first.
  std::vector<std::string> order{""};
  std::map<std::string, std::vector<const SchemaEntry*>> sections;
  for (const SchemaEntry& entry : entries_) {
    const std::string section = top_name(entry.path);
    if (!sections.count(section) && !section.empty()) order.push_back(section);
    sections[section].push_back(&entry);
  }
  for (const DynamicSection& dynamic : dynamic_sections_) {
    const std::string section = top_name(dynamic.prefix + ".");
    if (!sections.count(section)) {
      order.push_back(section);
      sections[section];
    }
  }

  std::string text;
  for (const std::string& section : order) {
    if (!sections.count(section)) continue;
    text += table_head(section.empty() ? "Top level" : "`" + section + "`", "##");
    for (const SchemaEntry* entry : sections[section]) text += row(*entry, entry->path);
    text += "\n";
    for (const DynamicSection& dynamic : dynamic_sections_) {
      if (top_name(dynamic.prefix + ".") != section) continue;
      for (const std::string& value : dynamic.known()) {
        const Schema* selected = dynamic.lookup(value);
        if (!selected) continue;
        text += table_head("`" + dynamic.selector_key + "` = `" + value + "`", "###");
        for (const SchemaEntry& entry : with_prefix(dynamic, *selected)) text += row(entry, entry.path);
        text += "\n";
      }
    }
  }
  return text;
}

}  // namespace mechlab
