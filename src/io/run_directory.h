// The run directory: where one run's outputs live and what state it is in. Decides, before anything is
// written, whether this invocation starts, resumes, has nothing to do, or must be refused.
#pragma once
#include <filesystem>
#include <string>

#include "config/run_config.h"

namespace mechlab {

enum class RunState { fresh, resume, finished };

class RunDirectory {
 public:
  // Inspects `root` for `run` without writing anything. Throws ConfigError (path "outputs.dir") when the
  // directory holds another config and overwrite is off, when an unfinished run exists and neither
  // resume nor overwrite is given, or when it cannot be written.
  static RunDirectory inspect(const std::filesystem::path& root, const RunConfig& run, bool resume, bool overwrite);

  RunState state() const { return state_; }
  const std::filesystem::path& root() const { return root_; }
  // Where replica r writes (the root itself for a single replica, else root/replica_<r>); each holds
  // config.json, metrics.jsonl, summary.json, checkpoints/ and dumps/ exactly as a single run would.
  std::filesystem::path replica_dir(int64_t r) const;

  // Creates the layout (emptying an overwritten directory) and writes config.json and provenance.json.
  void create(const std::string& command_line, int threads, const std::string& device);
  // Appends a timestamped line to log.txt.
  void log(const std::string& line) const;
  // Records the end time in provenance.json.
  void finish();

 private:
  std::filesystem::path root_;
  const RunConfig* run_ = nullptr;
  RunState state_ = RunState::fresh;
  bool overwrite_ = false;
};

// The config as compared between invocations: what can change the numbers (train.threads and
// outputs.dir cannot).
nlohmann::json comparable_config(nlohmann::json resolved);

}  // namespace mechlab
