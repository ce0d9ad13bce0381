#include "io/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "config/config_error.h"
#include "config/json_file.h"
#include "io/atomic_file.h"

namespace mechlab {

MetricsLog::MetricsLog(std::filesystem::path path, int64_t records) : path_(std::move(path)), records_(records) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd_ < 0) throw std::runtime_error("cannot open " + path_.string() + " for appending: " + std::strerror(errno));
}

MetricsLog::MetricsLog(MetricsLog&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), records_(other.records_) {
  other.fd_ = -1;
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::append(const nlohmann::ordered_json& record) {
  append_all(fd_, record.dump() + "\n", path_);
  ++records_;
}

namespace {
// The record a line holds, or nullopt for a line that is not one (torn by a full disk, or corrupted).
std::optional<nlohmann::json> record_of_line(const std::string& line, const std::string& source) {
  try {
    nlohmann::json record = parse_json_text(line, source);
    if (record.is_object() && record.contains("step") && record["step"].is_number_integer()) return record;
  } catch (const ConfigError&) {
  }
  return std::nullopt;
}
}  // namespace

MetricsPrefix read_metrics_prefix(const std::filesystem::path& path, int64_t step,
                                  std::optional<int64_t> expected_records) {
  MetricsPrefix prefix;
  std::error_code missing;
  if (!std::filesystem::exists(path, missing)) {
    if (expected_records.value_or(0) > 0)
      throw ConfigError(path.string(), "is missing, but the checkpoint of step " + std::to_string(step) + " follows " +
                                           std::to_string(*expected_records) + " records in it; pass --overwrite to start over");
    return prefix;
  }
  const std::string file = path.string();
  std::string text;
  try {
    text = read_file(path);
  } catch (const std::runtime_error& error) {
    throw ConfigError(file, std::string(error.what()) + "; pass --overwrite to start over");
  }
  auto refuse = [&](int64_t line, const std::string& problem) {
    throw ConfigError(file, "line " + std::to_string(line) + " " + problem + "; the run cannot resume exactly from step " +
                                std::to_string(step) + " (pass --overwrite to start over)");
  };
  int64_t previous = -1, line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const bool complete = end != std::string::npos;
    if (!complete) end = text.size();
    const std::string line = text.substr(start, end - start);
    ++line_number;
    const std::optional<nlohmann::json> record = complete ? record_of_line(line, file) : std::nullopt;
    const bool all_kept = expected_records && prefix.records == *expected_records;
    if (!record) {
      // A torn line is the last thing a stopped writer leaves, after every record the checkpoint counted.
      if (all_kept || (!expected_records && text.find('\n', end + (complete ? 1 : 0)) == std::string::npos)) {
        ++prefix.dropped;
        break;
      }
      refuse(line_number, "is not a complete JSON record (the file is torn or corrupted)");
    }
    const int64_t record_step = (*record)["step"].get<int64_t>();
    if (record_step <= previous)
      refuse(line_number, "has step " + std::to_string(record_step) + " after step " + std::to_string(previous) +
                              " (records written twice, or out of order)");
    previous = record_step;
    if (record_step > step) {
      ++prefix.dropped;
    } else {
      prefix.text += line + "\n";
      ++prefix.records;
    }
    start = end + 1;
  }
  if (expected_records && prefix.records != *expected_records)
    throw ConfigError(file, "holds " + std::to_string(prefix.records) + " records up to step " + std::to_string(step) +
                                " but the checkpoint was written after " + std::to_string(*expected_records) +
                                " (records are missing: the file was truncated); pass --overwrite to start over");
  return prefix;
}

}  // namespace mechlab
