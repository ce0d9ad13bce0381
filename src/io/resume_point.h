// Where an interrupted run continues: the newest step at which every replica has a checkpoint that
// verifies (format, data checksum, the run's config, tensor names and shapes), and each replica's
// metrics.jsonl records up to it, checked against the count the checkpoint holds. Reads only.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "io/metrics_log.h"

namespace mechlab {

struct ResumePoint {
  int64_t step = 0;                 // 0: no usable checkpoint yet, the run starts over
  bool interruption = false;        // the checkpoint of `step` was written for a stop request
  std::vector<MetricsPrefix> metrics;  // per replica, the records the resumed run keeps
  std::vector<std::string> notes;      // checkpoints passed over and why, for log.txt and the terminal
  std::vector<std::filesystem::path> corrupt;  // newer checkpoints that failed their checks
  // Newer checkpoints that every replica does not have (a kill between replicas): the resumed run writes
  // them again where its schedule has them.
  std::vector<std::filesystem::path> incomplete;
};

// The resume point of the run `run` in `replica_dirs`. Throws ConfigError naming the file when checkpoints
// exist but none verifies, or when a metrics.jsonl cannot be resumed exactly.
ResumePoint find_resume_point(const RunConfig& run, const std::vector<std::filesystem::path>& replica_dirs);

// The config as compared between invocations and checkpoints: what can change the numbers up to a given
// step (train.threads and outputs.dir cannot; train.steps only extends a run, see RunDirectory).
nlohmann::json run_identity(nlohmann::json resolved);

}  // namespace mechlab
