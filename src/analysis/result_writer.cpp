#include "analysis/result_writer.h"

#include <unistd.h>

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
}  // namespace

void write_analysis_result(const fs::path& folder, const AnalysisResult& result, int64_t replicas,
                           const nlohmann::json& provenance) {
  fs::create_directories(folder.parent_path());
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
  table["made"] = provenance;
  write_file_atomically(staging / "table.json", table.dump(2) + "\n");
  const fs::path old = folder.parent_path() / fmt::format(".{}.old.{}", folder.filename().string(), getpid());
  if (fs::exists(folder)) fs::rename(folder, old);
  fs::rename(staging, folder);
  fs::remove_all(old);
}

}  // namespace mechlab
