#include "io/run_directory.h"

#include <unistd.h>

#include <cerrno>

#include "config/config_error.h"
#include "config/json_file.h"
#include "config/run_schema.h"
#include "io/atomic_file.h"
#include "io/fault_injection.h"
#include "io/provenance.h"
#include "io/run_layout.h"

namespace mechlab {

namespace fs = std::filesystem;

namespace {
// The first key path where two configs differ, for the refusal message.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& prefix = "") {
  if (a.is_object() && b.is_object()) {
    for (const auto& [key, value] : a.items()) {
      const std::string path = prefix.empty() ? key : prefix + "." + key;
      if (!b.contains(key)) return path;
      std::string inner = first_difference(value, b[key], path);
      if (!inner.empty()) return inner;
    }
    for (const auto& [key, value] : b.items())
      if (!a.contains(key)) return prefix.empty() ? key : prefix + "." + key;
    return "";
  }
  return a == b ? "" : prefix + " (" + a.dump() + " there, " + b.dump() + " here)";
}

[[noreturn]] void refuse(const std::string& message) { throw ConfigError("outputs.dir", message); }

std::string quoted(const fs::path& path) { return "'" + path.string() + "'"; }

// `path` itself must not be a symbolic link that leads nowhere; its nearest existing ancestor must be a
// writable directory, or creating the run directory will fail half-way.
void check_usable(const fs::path& root) {
  std::error_code error;
  const fs::path absolute = fs::absolute(root, error);
  for (fs::path probe = absolute;; probe = probe.parent_path()) {
    const fs::file_status target = fs::status(probe, error);
    if (target.type() == fs::file_type::not_found) {
      if (fs::is_symlink(fs::symlink_status(probe, error)))
        refuse(quoted(probe) + " is a symbolic link to '" + fs::read_symlink(probe, error).string() +
               "', which does not exist; remove the link or choose another outputs.dir");
      if (probe == probe.parent_path()) break;
      continue;
    }
    if (error) {
      if (error.value() == ELOOP)
        refuse(quoted(probe) + " is a loop of symbolic links; remove it or choose another outputs.dir");
      refuse("cannot look at " + quoted(probe) + ": " + error.message() + "; choose another outputs.dir");
    }
    if (!fs::is_directory(target))
      refuse(quoted(probe) + " exists and is not a directory; choose another outputs.dir");
    // access() says yes to root on read-only mounts; making (and removing) a directory is the real test.
    std::string trial = (probe / ".mechlab-write-test-XXXXXX").string();
    if (access(probe.c_str(), W_OK) != 0 || mkdtemp(trial.data()) == nullptr)
      refuse("cannot write under " + quoted(probe) + "; choose a writable outputs.dir or --out");
    fs::remove(trial, error);
    return;
  }
}

// Whether `root` holds anything but the lock and the temporary files a killed writer leaves.
bool holds_anything(const fs::path& root) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root, error)) {
    const std::string name = entry.path().filename().string();
    if (name != run_layout::kLock && !run_layout::is_temporary(name)) return true;
  }
  return false;
}

// mechlab writes provenance.json first, so it is what marks a directory as a run of mechlab's.
bool written_by_mechlab(const fs::path& root) {
  const fs::path provenance = root / run_layout::kProvenance;
  std::error_code error;
  if (!fs::is_regular_file(provenance, error)) return false;
  try {
    const nlohmann::json content = parse_json_text(read_file(provenance), provenance.string());
    return content.is_object() && content.contains("mechlab_version");
  } catch (const std::exception&) {
    return false;
  }
}

nlohmann::json read_run_config(const fs::path& file) {
  try {
    // Resolved again so that keys added to mechlab since the run started compare as their defaults.
    return run_schema().resolve(read_json_file(file));
  } catch (const ConfigError& error) {
    throw ConfigError(file.string(), std::string("is not a config this mechlab can read (") + error.what() +
                                         "); pass --overwrite to replace the run or choose another --out");
  }
}
}  // namespace

RunDirectory RunDirectory::inspect(const fs::path& root, const RunConfig& run, bool resume, bool overwrite) {
  RunDirectory dir;
  dir.root_ = root;
  dir.run_ = &run;
  dir.overwrite_ = overwrite;
  check_usable(root);
  std::error_code error;
  if (!fs::exists(root, error) || !holds_anything(root)) return dir;
  if (!written_by_mechlab(root))
    refuse(quoted(root) + " holds files and is not a mechlab run directory (no provenance.json of mechlab's), so "
           "mechlab will not write there or remove anything; choose another outputs.dir");
  const fs::path config_file = root / run_layout::kConfig;
  if (!fs::exists(config_file, error)) return dir;  // stopped during start-up, before any training
  const nlohmann::json existing = read_run_config(config_file);
  if (overwrite) return dir;

  const std::string difference = first_difference(run_identity(existing), run_identity(run.resolved));
  if (!difference.empty())
    refuse(quoted(root) + " holds a run of a different config (" + difference +
           "); pass --overwrite to replace it or choose another --out");
  bool finished = true;
  for (int64_t r = 0; r < run.replicas(); ++r) finished = finished && fs::exists(dir.replica_dir(r) / run_layout::kSummary, error);
  const int64_t steps = existing["train"]["steps"].get<int64_t>();
  if (steps > run.train.steps)
    throw ConfigError("train.steps", quoted(root) + " holds a run of " + std::to_string(steps) +
                                         " steps, which cannot be shortened to " + std::to_string(run.train.steps) +
                                         "; set train.steps=" + std::to_string(steps) +
                                         " (or more, with --resume), or pass --overwrite");
  if (steps < run.train.steps) {
    if (!resume)
      refuse(quoted(root) + " holds a " + (finished ? "finished" : "unfinished") + " run of " + std::to_string(steps) +
             " steps; pass --resume to extend it to " + std::to_string(run.train.steps) +
             " steps, or --overwrite to start over");
    dir.extended_from_ = steps;
    dir.state_ = RunState::resume;
  } else if (finished) {
    dir.state_ = RunState::finished;
  } else if (resume) {
    dir.state_ = RunState::resume;
  } else {
    refuse(quoted(root) + " holds an unfinished run of this config; pass --resume to continue it or --overwrite to "
           "start over");
  }
  return dir;
}

fs::path RunDirectory::replica_dir(int64_t r) const { return run_layout::replica_dir(root_, r, run_->replicas()); }

std::vector<fs::path> RunDirectory::replica_dirs() const {
  std::vector<fs::path> dirs;
  for (int64_t r = 0; r < run_->replicas(); ++r) dirs.push_back(replica_dir(r));
  return dirs;
}

void RunDirectory::find_resume_point() {
  if (state_ == RunState::resume) resume_point_ = mechlab::find_resume_point(*run_, replica_dirs());
}

bool RunDirectory::prepare(const Invocation& invocation, const nlohmann::json& vocabulary, const std::atomic<bool>& stop) {
  std::error_code error;
  const std::vector<fs::path> leftovers = run_layout::temporary_files(root_);
  for (const fs::path& path : leftovers) fs::remove_all(path, error);  // a temporary folder with its content
  if (state_ == RunState::fresh) {
    // An overwritten run, or one stopped during start-up: only what mechlab wrote goes.
    for (const fs::path& path : run_layout::mechlab_entries(root_)) {
      fs::remove_all(path, error);  // emptied folders, and temporary folders whole
      if (error) throw std::runtime_error("cannot remove " + path.string() + ": " + error.message());
    }
  }
  fs::create_directories(root_);

  // provenance.json first: it marks the directory as mechlab's should anything below be interrupted.
  const fs::path provenance_file = root_ / run_layout::kProvenance;
  nlohmann::json prov = provenance(invocation.command_line, invocation.argv, invocation.threads, invocation.device);
  if (state_ == RunState::resume && fs::exists(provenance_file, error)) {
    // Keep the first start; record each resumption.
    const nlohmann::json previous = parse_json_text(read_file(provenance_file), provenance_file.string());
    nlohmann::json resumptions = previous.value("resumptions", nlohmann::json::array());
    resumptions.push_back({{"time", iso_time_now()}, {"from_step", resume_point_.step},
                           {"command", invocation.command_line}, {"argv", invocation.argv},
                           {"threads", invocation.threads}, {"device", invocation.device}});
    if (extended_from_) resumptions.back()["extended_from_steps"] = *extended_from_;
    prov = previous;
    prov["resumptions"] = resumptions;
    prov["end_time"] = nullptr;
  }
  write_file_atomically(provenance_file, dump_json(prov));
  write_file_atomically(root_ / run_layout::kConfig, run_->resolved.dump(2) + "\n");
  if (!vocabulary.is_null()) write_file_atomically(root_ / run_layout::kVocabulary, vocabulary.dump() + "\n");

  if (state_ == RunState::resume) {
    log("resuming from step " + std::to_string(resume_point_.step) + ": " + invocation.command_line);
    if (extended_from_) log("extending from " + std::to_string(*extended_from_) + " to " + std::to_string(run_->train.steps) + " steps");
    for (const std::string& note : resume_point_.notes) log(note);
  } else {
    log("started: " + invocation.command_line);
  }
  if (!leftovers.empty()) log("removed " + std::to_string(leftovers.size()) + " temporary file(s) of an interrupted writer");

  for (int64_t r = 0; r < run_->replicas(); ++r) {
    fault_point("startup");
    if (stop.load()) return false;
    const fs::path dir = replica_dir(r);
    fs::create_directories(dir / run_layout::kCheckpoints);
    fs::create_directories(dir / run_layout::kDumps);
    if (dir != root_) write_file_atomically(dir / run_layout::kConfig, run_->replica_config(r).dump(2) + "\n");
    if (state_ != RunState::resume) continue;
    // A resumed run is unfinished until its end writes every summary again.
    fs::remove(dir / run_layout::kSummary, error);
    write_file_atomically(dir / run_layout::kMetrics, resume_point_.metrics[r].text);
  }
  for (const fs::path& path : resume_point_.incomplete) fs::remove(path, error);
  if (!resume_point_.incomplete.empty())
    log("removed " + std::to_string(resume_point_.incomplete.size()) + " checkpoint(s) after step " +
        std::to_string(resume_point_.step) + " that not every replica has");
  for (const fs::path& path : resume_point_.corrupt) {
    fs::rename(path, path.string() + run_layout::kCorruptSuffix, error);
    if (!error) log("kept " + path.string() + " as " + path.filename().string() + run_layout::kCorruptSuffix);
  }
  return true;
}

void RunDirectory::log(const std::string& line) const {
  append_to_file(root_ / run_layout::kLog, iso_time_now() + " " + line + "\n");
}

void RunDirectory::log_if_possible(const std::string& line) const noexcept {
  try {
    log(line);
  } catch (...) {
  }
}

void RunDirectory::finish() {
  const fs::path provenance_file = root_ / run_layout::kProvenance;
  nlohmann::json prov = parse_json_text(read_file(provenance_file), provenance_file.string());
  prov["end_time"] = iso_time_now();
  write_file_atomically(provenance_file, dump_json(prov));
}

}  // namespace mechlab
