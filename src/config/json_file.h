// Reading a config file into JSON, with every failure (missing file, unreadable file, syntax error,
// a key written twice) reported as a one-line ConfigError that says where to look.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>

namespace mechlab {

// The parsed content of `path`. Throws ConfigError:
//   "<file>: file not found (relative paths start at <cwd>)"      missing file
//   "<file>: cannot read: <system reason>"                         unreadable file, a directory
//   "<file>: invalid JSON at line 3, column 14: <parser's detail>" syntax error
//   "<json path>: written twice in <file>; keep one"               a key repeated within one object, which
//                                                                  JSON parsers otherwise resolve silently
nlohmann::json read_json_file(const std::filesystem::path& path);

}  // namespace mechlab
