#include "io/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "config/config_error.h"
#include "io/atomic_file.h"
#include "io/provenance.h"
#include "io/run_layout.h"

namespace mechlab {

namespace fs = std::filesystem;

RunLock RunLock::acquire(const fs::path& root, const std::string& command_line) {
  std::error_code error;
  const bool existed = fs::exists(root, error);
  fs::create_directories(root, error);
  if (error) throw std::runtime_error("cannot create " + root.string() + ": " + error.message());
  const fs::path path = root / run_layout::kLock;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) throw std::runtime_error("cannot create " + path.string() + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int reason = errno;
    ::close(fd);
    if (reason != EWOULDBLOCK) throw std::runtime_error("cannot lock " + path.string() + ": " + std::strerror(reason));
    std::string holder;
    try {
      holder = read_file(path);
    } catch (const std::exception&) {
    }
    while (!holder.empty() && holder.back() == '\n') holder.pop_back();
    throw ConfigError("outputs.dir", "'" + root.string() + "' is in use by another mechlab process" +
                                         (holder.empty() ? "" : " (" + holder + ")") +
                                         "; wait for it to finish or stop it, or choose another --out");
  }
  // Who holds it, for the message above: a plain overwrite of the lock file's content.
  char host[256] = "unknown";
  gethostname(host, sizeof host);
  const std::string holder = "pid " + std::to_string(::getpid()) + " on " + host + " since " + iso_time_now() + ": " +
                             command_line + "\n";
  if (::ftruncate(fd, 0) == 0) {
    ssize_t ignored = ::pwrite(fd, holder.data(), holder.size(), 0);
    (void)ignored;
  }
  return RunLock(fd, !existed);
}

std::optional<std::string> lock_holder(const fs::path& root) {
  const fs::path path = root / run_layout::kLock;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);  // releases the shared lock if it was taken
  if (!held) return std::nullopt;
  std::string holder;
  try {
    holder = read_file(path);
  } catch (const std::exception&) {
  }
  while (!holder.empty() && holder.back() == '\n') holder.pop_back();
  return holder.empty() ? "another process" : holder;
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_), created_root_(other.created_root_) { other.fd_ = -1; }

RunLock::~RunLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace mechlab
