#include "io/resume_point.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/config_error.h"
#include "config/run_schema.h"
#include "io/checkpoint.h"
#include "io/run_layout.h"

namespace mechlab {

namespace fs = std::filesystem;

nlohmann::json run_identity(nlohmann::json resolved) {
  resolved["train"].erase("threads");
  resolved["train"].erase("steps");
  resolved["outputs"].erase("dir");  // a moved run directory is still the same run
  return resolved;
}

namespace {
// Why the checkpoint of replica r at `step` cannot be resumed, or "" when it can.
std::string problem_with(const fs::path& path, int64_t step, const nlohmann::json& replica_config,
                         const Transformer& model, const Optimizer& optimizer, int64_t& metrics_records,
                         bool& interruption) {
  try {
    const Checkpoint checkpoint = read_checkpoint(path);
    if (checkpoint.info.step != step)
      return fmt::format("its metadata says step {}, its name step {}", checkpoint.info.step, step);
    nlohmann::json stored;
    try {
      // Resolved again: a checkpoint of an older mechlab lacks the keys added since (they take their defaults).
      stored = run_schema().resolve(checkpoint.info.config);
    } catch (const ConfigError& error) {
      return std::string("its config is not one mechlab can read (") + error.what() + ")";
    }
    if (run_identity(stored) != run_identity(replica_config)) return "it belongs to another config";
    check_checkpoint_tensors(checkpoint, model, &optimizer);
    metrics_records = checkpoint.info.metrics_records.value_or(-1);
    interruption = checkpoint.info.interruption;
    return "";
  } catch (const std::runtime_error& error) {
    // The readers' messages start with the file, which the caller names already.
    const std::string message = error.what(), prefix = path.string() + ": ";
    return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
  }
}
}  // namespace

ResumePoint find_resume_point(const RunConfig& run, const std::vector<fs::path>& replica_dirs) {
  ResumePoint point;
  const int64_t R = run.replicas();
  // One replica on the CPU is enough to know every tensor a checkpoint must hold and its shape.
  const Transformer model(run.model, {{run.seeds[0], 0}});
  const Optimizer optimizer(model.parameters(), run.optim, 1);
  std::vector<int64_t> records(R, -1);
  bool found = false, interruption = false;
  fs::path first_bad;  // the newest checkpoint that failed, and why
  std::string first_problem;
  for (int64_t step : run_layout::checkpoint_steps(replica_dirs[0])) {
    bool complete = true, sound = true;
    for (int64_t r = 0; r < R && complete && sound; ++r) {
      const fs::path path = run_layout::checkpoint_path(replica_dirs[r], step);
      std::error_code error;
      // Replicas are saved one after another, so a kill can leave the newest step incomplete.
      if (!fs::exists(path, error)) {
        complete = false;
        break;
      }
      const std::string problem = problem_with(path, step, run.replica_config(r), model, optimizer, records[r],
                                               interruption);
      if (!problem.empty()) {
        sound = false;
        point.corrupt.push_back(path);
        point.notes.push_back(path.string() + " cannot be resumed: " + problem);
        if (first_problem.empty()) first_bad = path, first_problem = problem;
      }
    }
    if (complete && sound) {
      point.step = step;
      point.interruption = interruption;
      found = true;
      break;
    }
  }
  if (!point.notes.empty() && found) point.notes.push_back(fmt::format("falling back to step {}", point.step));
  for (const fs::path& dir : replica_dirs)
    for (int64_t step : run_layout::checkpoint_steps(dir)) {
      const fs::path path = run_layout::checkpoint_path(dir, step);
      if (step > point.step && std::find(point.corrupt.begin(), point.corrupt.end(), path) == point.corrupt.end())
        point.incomplete.push_back(path);
    }
  if (!first_problem.empty() && !found)
    throw ConfigError(first_bad.string(), "cannot be resumed: " + first_problem +
                                              "; no other checkpoint can be resumed either; pass --overwrite to start over");
  for (int64_t r = 0; r < R; ++r) {
    const fs::path metrics = replica_dirs[r] / run_layout::kMetrics;
    // Without a checkpoint the run starts over and its records go; with one, the checkpoint counted them.
    point.metrics.push_back(found ? read_metrics_prefix(metrics, point.step,
                                                        records[r] >= 0 ? std::optional<int64_t>(records[r]) : std::nullopt)
                                  : read_metrics_prefix(metrics, -1, 0));
  }
  return point;
}

}  // namespace mechlab
