// The lock that keeps a second mechlab process out of a run directory while one writes it: two runs (or
// two --resume of a requeued job) on one --out would both train and append every metrics record twice.
// An flock on <root>/.mechlab.lock: the kernel releases it when the holder exits, however it exits.
#pragma once
#include <filesystem>
#include <optional>
#include <string>

namespace mechlab {

// Who holds the lock of `root` now (the lock file's line: pid, host, time, command), or nothing when no process
// does. Reads only.
std::optional<std::string> lock_holder(const std::filesystem::path& root);

class RunLock {
 public:
  // Creates `root` (and its parents) when missing and takes the lock. Throws ConfigError("outputs.dir",
  // "... is in use by mechlab (pid 123 on host, since ...)") when another process holds it, and
  // std::runtime_error when the directory or the lock file cannot be created.
  static RunLock acquire(const std::filesystem::path& root, const std::string& command_line);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&&) = delete;
  ~RunLock();

  // Whether acquire() created the run directory (so a refusal right after can remove it again).
  bool created_root() const { return created_root_; }

 private:
  RunLock(int fd, bool created_root) : fd_(fd), created_root_(created_root) {}
  int fd_ = -1;
  bool created_root_ = false;
};

}  // namespace mechlab
