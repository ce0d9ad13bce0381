// `mechlab sweep pack DIR P`: trains pack P of a sweep, the one command every launcher runs (a local worker,
// a Slurm array task). It runs `mechlab run <pack config> --out <pack dir> --resume` as a child, passes its
// output through while keeping the last line, and records how it ended (sweep_layout.h), so `status` can tell
// a failure from an interruption. SIGTERM, SIGINT and SIGHUP reach the child (it checkpoints and exits 130);
// SIGUSR1, Slurm's pre-timeout signal (`--signal=B:USR1@S`), does the same and then requeues this array task
// with `scontrol requeue`, so the pack continues from its checkpoint in a new allocation.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace mechlab {

struct PackOptions {
  std::string device = "cpu";
  int threads = 0;  // 0: mechlab run's default
};

// The exit code of the child (0 when the pack was done already or is being trained by another process).
int run_pack(const std::filesystem::path& dir, size_t pack, const PackOptions& options);

// This executable's path, for the commands a launcher starts.
std::filesystem::path mechlab_executable();

}  // namespace mechlab
