// metrics.jsonl: one JSON object per logged step, appended a line at a time (one write per line, so a
// killed run leaves whole lines). Resuming cuts the file back to the checkpoint's step.
#pragma once
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

namespace mechlab {

class MetricsLog {
 public:
  explicit MetricsLog(std::filesystem::path path);
  void append(const nlohmann::ordered_json& record);
  // Keeps only the records with "step" <= step (and drops a torn last line), rewriting atomically.
  static void truncate_after(const std::filesystem::path& path, int64_t step);

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

}  // namespace mechlab
