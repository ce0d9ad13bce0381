// read_json_file: io's read_file for the bytes, nlohmann's parser for the syntax, and a parser callback
// that tracks the keys of every open object so a repeated key is caught (nlohmann would keep the last).
#include "config/json_file.h"

#include <set>
#include <string>
#include <vector>

#include "config/config_error.h"
#include "io/atomic_file.h"

namespace mechlab {
namespace {

using nlohmann::json;

// One open object or array while parsing: the keys seen so far, or the number of elements so far.
struct OpenValue {
  bool is_object = false;
  std::set<std::string> keys;
  std::string current_key;
  size_t elements = 0;
};

std::string json_path(const std::vector<OpenValue>& open, const std::string& key) {
  std::string path;
  for (size_t i = 0; i + 1 < open.size(); ++i) {
    const OpenValue& parent = open[i];
    if (parent.is_object) {
      path += (path.empty() ? "" : ".") + parent.current_key;
    } else {
      path += "[" + std::to_string(parent.elements) + "]";
    }
  }
  return path + (path.empty() ? "" : ".") + key;
}

// Line and column (1-based) of byte `offset`, as the parser reports them.
std::string position_of(const std::string& text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column);
}

// Refuses nesting deeper than kMaxJsonDepth before the parser builds it: printing or comparing a value
// a hundred thousand levels deep would recurse off the end of the stack.
void check_depth(const std::string& text, const std::string& source) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw ConfigError(source, "nested more than " + std::to_string(kMaxJsonDepth) + " levels deep at " +
                                      position_of(text, i) + "; a config nests sections 3 levels at most");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

json parse_rejecting_repeated_keys(const std::string& text, const std::string& file) {
  std::vector<OpenValue> open;
  auto count_element = [&open] {
    if (!open.empty() && !open.back().is_object) ++open.back().elements;
  };
  json::parser_callback_t track = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        open.emplace_back();
        open.back().is_object = event == json::parse_event_t::object_start;
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        open.pop_back();
        count_element();
        break;
      case json::parse_event_t::key: {
        OpenValue& object = open.back();
        const std::string& key = parsed.get_ref<const std::string&>();
        if (!object.keys.insert(key).second)
          throw ConfigError(json_path(open, key), "written twice in " + file + "; keep one");
        object.current_key = key;
        break;
      }
      case json::parse_event_t::value:
        count_element();
        break;
    }
    return true;
  };
  try {
    return json::parse(text, track);
  } catch (const json::out_of_range& error) {
    // The lexer refuses numbers a double cannot hold ("number overflow parsing '1e400'") before the
    // callback sees them; the open objects still say whose value it was.
    std::string where;
    for (const OpenValue& value : open)
      where += value.is_object ? (where.empty() ? "" : ".") + value.current_key : "[" + std::to_string(value.elements) + "]";
    if (where.empty()) where = file;
    std::string what = error.what();
    const size_t quote = what.find('\'');
    const std::string number = quote == std::string::npos ? what : what.substr(quote);
    throw ConfigError(where, "number out of range" + (where == file ? "" : " in " + file) + ": " + number +
                                 " (a double holds magnitudes up to about 1.8e308)");
  }
}

}  // namespace

json parse_json_text(const std::string& text, const std::string& source) {
  check_depth(text, source);
  try {
    return parse_rejecting_repeated_keys(text, source);
  } catch (const json::parse_error& error) {
    // nlohmann's what() is "[json.exception.parse_error.101] parse error at line 3, column 14: <detail>".
    const std::string what = error.what();
    const size_t position = what.find("line ");
    throw ConfigError(source,
                      "invalid JSON" + (position == std::string::npos ? ": " + what : " at " + what.substr(position)));
  }
}

json read_json_file(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) {
    std::string message = "file not found";
    if (path.is_relative())
      message += " (relative paths start at " + std::filesystem::current_path(ignored).string() + ")";
    throw ConfigError(file, message);
  }
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::runtime_error& error) {
    // read_file says "cannot read <path>: <reason>"; the path is already the prefix of our line.
    std::string reason = error.what();
    const std::string repeated = "cannot read " + file + ": ";
    if (reason.rfind(repeated, 0) == 0) reason = reason.substr(repeated.size());
    throw ConfigError(file, "cannot read: " + reason);
  }
  return parse_json_text(text, file);
}

}  // namespace mechlab
