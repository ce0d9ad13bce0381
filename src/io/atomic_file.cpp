// write_file_atomically and read_file on POSIX file descriptors, so that every failure has an errno
// to report (iostreams hide it) and the data can be fsynced before the rename makes it visible.
#include "io/atomic_file.h"
#include "io/fault_injection.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace mechlab {
namespace {

[[noreturn]] void throw_system_error(const std::string& what, const std::filesystem::path& path, int error) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(error));
}

// Closes on every exit path, so an exception cannot leak the descriptor.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // close() can report a failed deferred write (NFS, full disk), so the write path checks it.
  int close() {
    int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

// A new, exclusively created file beside `path`. The pid keeps processes apart and the counter threads;
// a leftover from a crashed run that had the same pid (common in containers) just moves us to the next name.
std::filesystem::path next_temporary_name(const std::filesystem::path& path) {
  static std::atomic<unsigned> next_serial{0};
  std::string name = ".";
  name += path.filename().string();
  name += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(next_serial.fetch_add(1));
  return path.parent_path() / name;
}

int create_temporary_beside(const std::filesystem::path& path, std::filesystem::path& temporary) {
  for (int attempt = 0;; ++attempt) {
    temporary = next_temporary_name(path);
    int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST || attempt == 100) return fd;
  }
}

// Makes the rename itself durable. Best effort: some filesystems refuse fsync on a directory, and by
// now the file is complete and in place either way.
void sync_directory(const std::filesystem::path& directory) {
  int fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

void append_all(int fd, std::string_view bytes, const std::filesystem::path& path) {
  while (!bytes.empty()) {
    ssize_t written = ::write(fd, bytes.data(), bytes.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      throw_system_error("cannot write", path, errno);
    }
    bytes.remove_prefix(static_cast<size_t>(written));
  }
}

void append_to_file(const std::filesystem::path& path, std::string_view bytes) {
  FileDescriptor file(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666));
  if (file.get() < 0) throw_system_error("cannot write", path, errno);
  append_all(file.get(), bytes, path);
  if (file.close() != 0) throw_system_error("cannot write", path, errno);
}

std::filesystem::path create_temporary_directory_beside(const std::filesystem::path& path) {
  for (int attempt = 0;; ++attempt) {
    const std::filesystem::path temporary = next_temporary_name(path);
    if (::mkdir(temporary.c_str(), 0777) == 0) return temporary;
    if (errno != EEXIST || attempt == 100) throw_system_error("cannot create", temporary, errno);
  }
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
  if (path.filename().empty()) throw std::runtime_error("cannot write " + path.string() + ": not a file name");
  std::filesystem::path temporary;
  FileDescriptor file(create_temporary_beside(path, temporary));
  if (file.get() < 0) throw_system_error("cannot write", path, errno);
  try {
    append_all(file.get(), bytes, path);
    if (::fsync(file.get()) != 0) throw_system_error("cannot write", path, errno);
    if (file.close() != 0) throw_system_error("cannot write", path, errno);
    fault_point("atomic_write");
    if (::rename(temporary.c_str(), path.c_str()) != 0) throw_system_error("cannot write", path, errno);
  } catch (...) {
    ::unlink(temporary.c_str());
    throw;
  }
  sync_directory(path.parent_path());
}

std::string read_file(const std::filesystem::path& path) {
  FileDescriptor file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (file.get() < 0) throw_system_error("cannot read", path, errno);
  struct stat info {};
  if (::fstat(file.get(), &info) != 0) throw_system_error("cannot read", path, errno);
  if (S_ISDIR(info.st_mode)) throw_system_error("cannot read", path, EISDIR);
  std::string bytes;
  if (S_ISREG(info.st_mode)) bytes.reserve(static_cast<size_t>(info.st_size));
  // Read until end of file rather than trusting st_size: pipes and /proc files report 0.
  char chunk[1 << 16];
  for (;;) {
    ssize_t got = ::read(file.get(), chunk, sizeof chunk);
    if (got < 0) {
      if (errno == EINTR) continue;
      throw_system_error("cannot read", path, errno);
    }
    if (got == 0) break;
    bytes.append(chunk, static_cast<size_t>(got));
  }
  return bytes;
}

}  // namespace mechlab
