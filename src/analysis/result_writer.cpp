#include "analysis/result_writer.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "io/atomic_file.h"
#include "io/npy.h"

namespace mechlab {

namespace fs = std::filesystem;

namespace {
// For one replica, [v] -> v in the baselines, so table.json reads like the arrays do.
nlohmann::json unwrap_replica(const nlohmann::json& value, int64_t replicas) {
  if (replicas != 1) return value;
  if (value.is_array() && value.size() == 1) return value[0];
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, v] : value.items()) out[key] = unwrap_replica(v, replicas);
    return out;
  }
  return value;
}
// Removes what a killed writer of `folder` left beside it (.<name>.tmp.<pid>, .<name>.old.<pid>), so a
// resumed run holds what an uninterrupted one does; the folders of a writer still running are left alone.
void remove_abandoned(const fs::path& folder) {
  std::error_code error;
  const std::string name = folder.filename().string();
  for (const auto& entry : fs::directory_iterator(folder.parent_path(), error)) {
    const std::string other = entry.path().filename().string();
    for (const std::string kind : {".tmp.", ".old."}) {
      const std::string prefix = "." + name + kind;
      if (!other.starts_with(prefix)) continue;
      const std::string pid = other.substr(prefix.size());
      if (pid.empty() || pid.size() > 9 || pid.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t writer = static_cast<pid_t>(std::stol(pid));
      const bool alive = writer != getpid() && (kill(writer, 0) == 0 || errno == EPERM);
      if (!alive) fs::remove_all(entry.path(), error);
    }
  }
}
}  // namespace

void write_analysis_result(const fs::path& folder, const AnalysisResult& result, int64_t replicas,
                           const nlohmann::json& provenance) {
  fs::create_directories(folder.parent_path());
  remove_abandoned(folder);
  const fs::path staging = folder.parent_path() / fmt::format(".{}.tmp.{}", folder.filename().string(), getpid());
  fs::remove_all(staging);
  fs::create_directories(staging);
  nlohmann::json arrays = nlohmann::json::object();
  for (const auto& [name, array] : result.arrays) {
    Tensor saved = array;
    if (replicas == 1) saved = array.view(Shape(array.shape().begin() + 1, array.shape().end()));
    save_npy((staging / (name + ".npy")).string(), saved);
    arrays[name + ".npy"] = saved.shape();
  }
  nlohmann::json table = result.table;
  if (table.contains("baseline")) table["baseline"] = unwrap_replica(table["baseline"], replicas);
  table["arrays"] = arrays;
  table["replicas"] = replicas;  // > 1: every array has a leading replica axis
  table["made"] = provenance;
  write_file_atomically(staging / "table.json", table.dump(2) + "\n");
  const fs::path old = folder.parent_path() / fmt::format(".{}.old.{}", folder.filename().string(), getpid());
  if (fs::exists(folder)) fs::rename(folder, old);
  fs::rename(staging, folder);
  fs::remove_all(old);
}

void write_analysis_batch(const fs::path& folder, const ContrastBatch& batch, int64_t replicas) {
  AnalysisResult saved;
  saved.arrays["clean_inputs"] = batch.clean.inputs;
  saved.arrays["corrupted_inputs"] = batch.corrupted.inputs;
  const Annotations& notes = batch.clean.annotations;
  for (const auto& [role, positions] : notes.positions) saved.arrays["position." + role] = positions;
  for (const auto& [role, tokens] : notes.tokens) saved.arrays["token." + role] = tokens;
  for (const auto& [role, mask] : notes.masks) saved.arrays["mask." + role] = mask;
  saved.table["description"] = batch.description;
  write_analysis_result(folder, saved, replicas, nlohmann::json::object());
}

}  // namespace mechlab
