// Reading a config file into JSON, with every failure (missing file, unreadable file, syntax error,
// a key written twice, a number out of range, nesting no config needs) reported as a one-line ConfigError
// that says where to look.
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace mechlab {

// Deeper than any config (model.init.scheme is 3 levels, a list one more): a limit that keeps recursive
// code (printing, comparing) far from the end of the stack.
inline constexpr int kMaxJsonDepth = 64;

// The parsed content of `path`. Throws ConfigError:
//   "<file>: file not found (relative paths start at <cwd>)"      missing file
//   "<file>: cannot read: <system reason>"                         unreadable file, a directory
//   "<file>: invalid JSON at line 3, column 14: <parser's detail>" syntax error
//   "<json path>: written twice in <file>; keep one"               a key repeated within one object, which
//                                                                  JSON parsers otherwise resolve silently
//   "<json path>: number out of range in <file>: ..."              1e400 and the like
//   "<file>: nested more than 64 levels deep at line 1, column 80" nesting no config has
nlohmann::json read_json_file(const std::filesystem::path& path);

// The same checks on JSON text from elsewhere (`source` names it in messages: a file inside a run
// directory, a checkpoint's metadata, an override).
nlohmann::json parse_json_text(const std::string& text, const std::string& source);

}  // namespace mechlab
