#include "train/summary.h"

#include <algorithm>
#include <stdexcept>

#include "io/atomic_file.h"
#include "io/run_layout.h"

namespace mechlab {

void write_summary(const RunConfig& run, int64_t r, const std::filesystem::path& replica_dir) {
  const std::filesystem::path metrics = replica_dir / run_layout::kMetrics;
  const std::string text = read_file(metrics);
  const size_t end = text.find_last_not_of('\n');
  const size_t begin = end == std::string::npos ? 0 : text.rfind('\n', end);
  const std::string line = end == std::string::npos ? "" : text.substr(begin == std::string::npos ? 0 : begin + 1, end - begin);
  const nlohmann::ordered_json last = nlohmann::ordered_json::parse(line, nullptr, false);
  if (last.is_discarded() || !last.is_object() || last.value("step", int64_t{-1}) != run.train.steps || !last.contains("loss"))
    throw std::runtime_error(metrics.string() + " does not end with the record of step " +
                             std::to_string(run.train.steps) + "; resume the run to finish it");
  nlohmann::ordered_json summary{{"name", run.name},
                                 {"seed", run.seeds[r]},
                                 {"steps", run.train.steps},
                                 {"final_train_loss", last["loss"]}};
  for (const auto& [key, value] : last.items())
    if (std::find(kStepFields.begin(), kStepFields.end(), key) == kStepFields.end()) summary[key] = value;
  write_file_atomically(replica_dir / run_layout::kSummary, summary.dump(2) + "\n");
}

}  // namespace mechlab
