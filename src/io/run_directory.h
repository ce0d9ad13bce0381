// The run directory: where one run's outputs live and what state it is in. inspect() decides, reading
// only, whether this invocation starts, resumes, extends, has nothing to do, or must be refused;
// prepare() then writes, under the directory's lock (io/run_lock.h).
#pragma once
#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "io/resume_point.h"

namespace mechlab {

enum class RunState { fresh, resume, finished };

// How mechlab was invoked, for provenance.json and log.txt.
struct Invocation {
  std::string command_line;        // as a shell would take it back
  std::vector<std::string> argv;
  int threads = 0;
  std::string device;
};

class RunDirectory {
 public:
  // Inspects `root` for `run` without writing anything. Throws ConfigError (path "outputs.dir", or the file
  // at fault) when `root` is not a usable place for a run (a file, a dangling or looping symbolic link, not
  // writable), holds something that is not a mechlab run (never removed, even with overwrite), holds another
  // config and overwrite is off, holds an unfinished run and neither resume nor overwrite is given, or
  // holds a longer run than train.steps asks for. resume and overwrite together are refused by the caller.
  static RunDirectory inspect(const std::filesystem::path& root, const RunConfig& run, bool resume, bool overwrite);

  RunState state() const { return state_; }
  const std::filesystem::path& root() const { return root_; }
  // Where replica r writes (the root itself for a single replica, else root/replica_<r>).
  std::filesystem::path replica_dir(int64_t r) const;
  std::vector<std::filesystem::path> replica_dirs() const;
  // train.steps of the run found there, when it is shorter than this config's (the run is extended).
  std::optional<int64_t> extended_from() const { return extended_from_; }

  // For a resume: verifies checkpoints and metrics (io/resume_point.h). Call with the lock held.
  void find_resume_point();
  const ResumePoint& resume_point() const { return resume_point_; }

  // With the lock held: removes temporary files of killed writers, removes what an overwritten run wrote
  // (only that), creates the layout, writes provenance.json, config.json and vocab.json, cuts metrics.jsonl
  // back to the resume point and logs the start. `stop` is polled between replicas (thousands of seeds
  // take a while); prepare() returns false when it stopped early, leaving a run that --resume continues.
  bool prepare(const Invocation& invocation, const nlohmann::json& vocabulary, const std::atomic<bool>& stop);
  // Appends a timestamped line to log.txt; throws std::runtime_error when it cannot be written.
  void log(const std::string& line) const;
  // The same, ignoring write errors: for messages on the way out of a failure (a full disk).
  void log_if_possible(const std::string& line) const noexcept;
  // Records the end time in provenance.json.
  void finish();

 private:
  std::filesystem::path root_;
  const RunConfig* run_ = nullptr;
  RunState state_ = RunState::fresh;
  bool overwrite_ = false;
  std::optional<int64_t> extended_from_;
  ResumePoint resume_point_;
};

}  // namespace mechlab
