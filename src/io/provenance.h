// Where a run came from: mechlab version and git commit, build, compiler, host and times.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace mechlab {

std::string iso_time_now();
nlohmann::json provenance(const std::string& command_line, int threads, const std::string& device);

}  // namespace mechlab
