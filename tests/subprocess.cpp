#include "subprocess.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace mechlab::testing {

std::string mechlab_binary() {
  const char* path = std::getenv("MECHLAB_BINARY");
  return path ? path : MECHLAB_BINARY;
}

std::string source_dir() {
  const char* path = std::getenv("MECHLAB_SOURCE_DIR");
  return path ? path : MECHLAB_SOURCE_DIR;
}

namespace {
int spawn(const std::vector<std::string>& args, const std::filesystem::path& cwd, const std::string& out,
          const std::string& err, const std::vector<std::string>& environment = {}) {
  const std::string binary = mechlab_binary();
  std::vector<std::string> argv_strings{binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addchdir_np(&actions, std::filesystem::absolute(cwd).c_str());
  std::vector<std::string> env_strings(environment);
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> env;
  for (std::string& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + binary);
  return pid;
}
}  // namespace

int wait_for(int pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ProcessResult run_mechlab(const std::vector<std::string>& args, const std::filesystem::path& cwd,
                          const std::vector<std::string>& environment) {
  TempDir capture;
  const std::string out = (capture / "out").string(), err = (capture / "err").string();
  ProcessResult result;
  result.exit_code = wait_for(spawn(args, cwd, out, err, environment));
  result.out = read_text(out);
  result.err = read_text(err);
  return result;
}

int start_mechlab(const std::vector<std::string>& args, const std::filesystem::path& cwd) {
  return spawn(args, cwd, "/dev/null", "/dev/null");
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "mechlab-test-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}
TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

bool python_imports(const std::string& modules) {
  return std::system(("/usr/bin/python3 -c 'import " + modules + "' 2>/dev/null").c_str()) == 0;
}

}  // namespace mechlab::testing
