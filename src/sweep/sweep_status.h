// Where each pack of a sweep stands, read from its directory alone (sweep_layout.h): no Slurm accounting, so
// it works on any cluster and for the local launcher alike.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/sweep_manifest.h"

namespace mechlab {

enum class PackState {
  done,         // every run has its summary.json
  running,      // a process holds the pack's run directory
  failed,       // its last attempt ended with an exit code other than 0 or an interruption's
  interrupted,  // stopped (a signal, a requeue, a killed process) and not finished: --resume continues it
  queued,       // submitted to Slurm and not started yet
  missing,      // never started
};
const char* state_name(PackState state);

struct PackStatus {
  PackState state = PackState::missing;
  size_t runs_done = 0;
  int64_t step = -1;           // the last step in its first replica's metrics.jsonl (-1: none)
  int64_t steps = 0;           // train.steps
  std::optional<int> exit_code;
  std::string detail;          // running: who holds it; failed: the last output line; queued: the job
  std::string gpu;             // running: the CUDA_VISIBLE_DEVICES its attempt started with (empty: none set)
};

std::vector<PackStatus> sweep_status(const SweepManifest& sweep);

// The pack's state record (sweep_layout::pack_record): {"state": "queued" | "started" | "ended", "time", ...}.
void write_pack_record(const std::filesystem::path& dir, size_t pack, nlohmann::json record);

// "exit 137 (killed by SIGKILL)", "exit 3 (training diverged)", ...
std::string exit_text(int code);

}  // namespace mechlab
