#include "analysis/result_writer.h"

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
}  // namespace

void write_analysis_result(const fs::path& folder, const AnalysisResult& result, int64_t replicas,
                           const nlohmann::json& provenance) {
  fs::create_directories(folder.parent_path());
  // Named as temporaries, so what a killed writer leaves is removed when its run resumes (io/run_layout.h).
  const fs::path staging = create_temporary_directory_beside(folder);
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
  // The previous result moves onto an empty temporary directory (rename replaces an empty one), then goes.
  const fs::path old = create_temporary_directory_beside(folder);
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
  for (const auto& [name, label] : notes.labels) saved.arrays["label." + name] = label;
  saved.table["description"] = batch.description;
  write_analysis_result(folder, saved, replicas, nlohmann::json::object());
}

}  // namespace mechlab
