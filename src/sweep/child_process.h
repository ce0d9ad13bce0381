// Starting and waiting for the processes a sweep runs (mechlab itself, sbatch, scontrol), through EINTR.
#pragma once
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace mechlab {

// Starts argv (argv[0] a path, or a command looked up in PATH) with its stdout and stderr on `output_fd`
// (-1: this process's own), in this process's environment with `environment`'s NAME=value entries set over it.
// Throws std::runtime_error naming the command when it cannot start.
pid_t spawn_process(const std::vector<std::string>& argv, int output_fd = -1,
                    const std::vector<std::string>& environment = {});
// The same with stdout and stderr on a new pipe, whose read end `output` the caller reads and closes.
struct PipedChild {
  pid_t pid = 0;
  int output = -1;
};
PipedChild spawn_piped(const std::vector<std::string>& argv);
// Reads `fd` until its writers close it, handing each chunk read to `chunk` (through signals); closes it.
void read_until_closed(int fd, const std::function<void(const char*, size_t)>& chunk);

// The exit code of `pid` once it ends: 128 + the signal when a signal killed it. Waits through signals.
int wait_process(pid_t pid);

struct CapturedRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs argv to its end, capturing what it prints.
CapturedRun run_captured(const std::vector<std::string>& argv);

}  // namespace mechlab
