// Starting and waiting for the processes a sweep runs (mechlab itself, sbatch, scontrol), through EINTR.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace mechlab {

// Starts argv (argv[0] a path, or a command looked up in PATH) with its stdout and stderr on `output_fd`
// (-1: this process's own), in this process's environment with `environment`'s NAME=value entries set over it.
// Throws std::runtime_error naming the command when it cannot start.
pid_t spawn_process(const std::vector<std::string>& argv, int output_fd = -1,
                    const std::vector<std::string>& environment = {});
// The exit code of `pid` once it ends: 128 + the signal when a signal killed it. Waits through signals.
int wait_process(pid_t pid);

struct CapturedRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};
// Runs argv to its end, capturing what it prints.
CapturedRun run_captured(const std::vector<std::string>& argv);

}  // namespace mechlab
