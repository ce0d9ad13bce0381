// Running the mechlab binary from tests: capture its exit code and output, or start it and signal it.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace mechlab::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal when killed by a signal
  std::string out, err;
};

// The mechlab binary and the source tree: compiled-in paths, overridable by the environment variables
// MECHLAB_BINARY and MECHLAB_SOURCE_DIR (the GPU machine runs a build copied from elsewhere).
std::string mechlab_binary();
std::string source_dir();

// Runs mechlab_binary() with `args` in directory `cwd`, waits, and returns what it printed. `environment`
// adds NAME=value entries to the test's own environment.
ProcessResult run_mechlab(const std::vector<std::string>& args, const std::filesystem::path& cwd = ".",
                          const std::vector<std::string>& environment = {});

// Whether /usr/bin/python3 can import `modules` ("numpy, matplotlib"): the tests of figure scripts skip without.
bool python_imports(const std::string& modules);

// Starts mechlab_binary() in the background (output discarded); returns its pid.
int start_mechlab(const std::vector<std::string>& args, const std::filesystem::path& cwd = ".");
// Waits for a started process and returns its exit code (128 + signal when killed).
int wait_for(int pid);

// A fresh directory under the system temp directory, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::string read_text(const std::filesystem::path& path);
void write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace mechlab::testing
