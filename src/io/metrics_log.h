// metrics.jsonl: one JSON object per logged step, appended a line at a time with one checked write each
// (a full disk stops the run instead of tearing the file in silence). Resuming keeps the records up to the
// checkpoint's step, after checking that none is missing, torn or repeated before it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mechlab {

class MetricsLog {
 public:
  // Opens `path` for appending (creating it); `records` is how many it already holds.
  MetricsLog(std::filesystem::path path, int64_t records);
  MetricsLog(MetricsLog&& other) noexcept;
  MetricsLog& operator=(MetricsLog&&) = delete;
  ~MetricsLog();

  // Appends one line; throws std::runtime_error naming the file and the system's reason.
  void append(const nlohmann::ordered_json& record);
  // Records in the file: those it held when opened plus those appended.
  int64_t records() const { return records_; }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  int64_t records_ = 0;
};

// The records of a metrics.jsonl that a resume at `step` keeps: every record with "step" <= step, as text.
struct MetricsPrefix {
  std::string text;
  int64_t records = 0;
  int64_t dropped = 0;  // records (and a torn line) after `step`, which the resumed training logs again
};

// Reads `path` (a missing file holds nothing) for a resume at `step`. Throws ConfigError naming the file
// when a line before the record of `step` is not a JSON record (torn or corrupted), when steps do not
// increase (records written twice), or when `expected_records` (what the checkpoint counted) are not all
// there (a truncated file).
MetricsPrefix read_metrics_prefix(const std::filesystem::path& path, int64_t step,
                                  std::optional<int64_t> expected_records);

}  // namespace mechlab
