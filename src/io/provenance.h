// Where a run came from: mechlab version and git commit, build, compiler, host and times.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mechlab {

std::string iso_time_now();
// The command as typed (command_line, and argv word by word), and the machine it ran on.
nlohmann::json provenance(const std::string& command_line, const std::vector<std::string>& argv, int threads,
                          const std::string& device);
// `value` as indented JSON text with a final newline; bytes that are not UTF-8 (a path from the command
// line) become U+FFFD instead of an exception.
std::string dump_json(const nlohmann::json& value);

}  // namespace mechlab
