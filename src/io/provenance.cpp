#include "io/provenance.h"

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <memory>

namespace mechlab {

namespace {
std::string command_output(const std::string& command) {
  std::array<char, 256> buffer{};
  std::string output;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return "";
  while (fgets(buffer.data(), buffer.size(), pipe.get())) output += buffer.data();
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  return output;
}
}  // namespace

std::string iso_time_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string dump_json(const nlohmann::json& value) {
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

nlohmann::json provenance(const std::string& command_line, const std::vector<std::string>& argv, int threads,
                          const std::string& device) {
  const std::string source = MECHLAB_SOURCE_DIR;
  const std::string git = "git -C '" + source + "' ";
  std::string commit = command_output(git + "rev-parse HEAD 2>/dev/null");
  if (!commit.empty() && !command_output(git + "status --porcelain --untracked-files=no 2>/dev/null").empty())
    commit += "-dirty";
  char host[256] = "unknown";
  gethostname(host, sizeof host);
  return {{"mechlab_version", MECHLAB_VERSION},
          {"git_commit", commit.empty() ? "unknown" : commit},
          {"build_type", MECHLAB_BUILD_TYPE},
          {"compiler", std::string("g++ ") + __VERSION__},
          {"host", host},
          {"threads", threads},
          {"device", device},
          {"command", command_line},
          {"cwd", std::filesystem::current_path().string()},
          {"argv", argv},
          {"start_time", iso_time_now()},
          {"end_time", nullptr}};
}

}  // namespace mechlab
