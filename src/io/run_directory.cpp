#include "io/run_directory.h"

#include <unistd.h>

#include <fstream>

#include "config/config_error.h"
#include "config/run_schema.h"
#include "io/atomic_file.h"
#include "io/provenance.h"

namespace mechlab {

namespace fs = std::filesystem;

nlohmann::json comparable_config(nlohmann::json resolved) {
  resolved["train"].erase("threads");
  resolved["outputs"].erase("dir");  // a moved run directory is still the same run
  return resolved;
}

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

// The nearest existing ancestor must be a writable directory, or creating `root` will fail.
void check_writable(const fs::path& root) {
  fs::path probe = fs::absolute(root);
  while (!fs::exists(probe) && probe.has_parent_path() && probe != probe.parent_path()) probe = probe.parent_path();
  if (!fs::is_directory(probe))
    throw ConfigError("outputs.dir", "'" + probe.string() + "' exists and is not a directory; choose another outputs.dir");
  // access() says yes to root on read-only mounts; making (and removing) a directory is the real test.
  std::string trial = (probe / ".mechlab-write-test-XXXXXX").string();
  if (access(probe.c_str(), W_OK) != 0 || mkdtemp(trial.data()) == nullptr)
    throw ConfigError("outputs.dir", "cannot write under '" + probe.string() + "'; choose a writable outputs.dir or --out");
  fs::remove(trial);
}
}  // namespace

RunDirectory RunDirectory::inspect(const fs::path& root, const RunConfig& run, bool resume, bool overwrite) {
  RunDirectory dir;
  dir.root_ = root;
  dir.run_ = &run;
  dir.overwrite_ = overwrite;
  check_writable(root);
  if (!fs::exists(root) || fs::is_empty(root)) return dir;
  if (!fs::exists(root / "config.json"))
    throw ConfigError("outputs.dir", "'" + root.string() + "' exists and is not a mechlab run directory; choose another outputs.dir");
  if (overwrite) return dir;
  // Resolved again so that keys added to mechlab since the run started compare as their defaults.
  nlohmann::json existing = run_schema().resolve(nlohmann::json::parse(read_file(root / "config.json")));
  const std::string difference = first_difference(comparable_config(existing), comparable_config(run.resolved));
  if (!difference.empty())
    throw ConfigError("outputs.dir", "'" + root.string() + "' holds a run of a different config (" + difference +
                                         "); pass --overwrite to replace it or choose another --out");
  bool finished = true;
  for (int64_t r = 0; r < run.replicas(); ++r) finished = finished && fs::exists(dir.replica_dir(r) / "summary.json");
  if (finished) {
    dir.state_ = RunState::finished;
  } else if (resume) {
    dir.state_ = RunState::resume;
  } else {
    throw ConfigError("outputs.dir", "'" + root.string() + "' holds an unfinished run of this config; pass --resume to "
                                     "continue it or --overwrite to start over");
  }
  return dir;
}

fs::path RunDirectory::replica_dir(int64_t r) const {
  return run_->replicas() == 1 ? root_ : root_ / ("replica_" + std::to_string(r));
}

void RunDirectory::create(const std::string& command_line, int threads, const std::string& device) {
  if (overwrite_ && fs::exists(root_)) fs::remove_all(root_);
  fs::create_directories(root_);
  write_file_atomically(root_ / "config.json", run_->resolved.dump(2) + "\n");
  nlohmann::json prov = provenance(command_line, threads, device);
  if (state_ == RunState::resume && fs::exists(root_ / "provenance.json")) {
    // Keep the first start; record each resumption.
    nlohmann::json previous = nlohmann::json::parse(read_file(root_ / "provenance.json"));
    prov["start_time"] = previous["start_time"];
    prov["resumed_at"] = previous.value("resumed_at", nlohmann::json::array());
    prov["resumed_at"].push_back(iso_time_now());
  }
  write_file_atomically(root_ / "provenance.json", prov.dump(2) + "\n");
  for (int64_t r = 0; r < run_->replicas(); ++r) {
    const fs::path dir = replica_dir(r);
    fs::create_directories(dir / "checkpoints");
    fs::create_directories(dir / "dumps");
    if (dir != root_) write_file_atomically(dir / "config.json", run_->replica_config(r).dump(2) + "\n");
  }
}

void RunDirectory::log(const std::string& line) const {
  std::ofstream out(root_ / "log.txt", std::ios::app);
  out << iso_time_now() << " " << line << "\n";
}

void RunDirectory::finish() {
  nlohmann::json prov = nlohmann::json::parse(read_file(root_ / "provenance.json"));
  prov["end_time"] = iso_time_now();
  write_file_atomically(root_ / "provenance.json", prov.dump(2) + "\n");
}

}  // namespace mechlab
