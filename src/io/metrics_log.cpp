#include "io/metrics_log.h"

#include <sstream>
#include <stdexcept>

#include "io/atomic_file.h"

namespace mechlab {

MetricsLog::MetricsLog(std::filesystem::path path) : path_(std::move(path)), out_(path_, std::ios::app) {
  if (!out_) throw std::runtime_error(path_.string() + ": cannot open for appending");
}

void MetricsLog::append(const nlohmann::ordered_json& record) {
  const std::string line = record.dump() + "\n";
  out_.write(line.data(), static_cast<std::streamsize>(line.size()));
  out_.flush();
}

void MetricsLog::truncate_after(const std::filesystem::path& path, int64_t step) {
  if (!std::filesystem::exists(path)) return;
  std::istringstream in(read_file(path));
  std::string line, kept;
  while (std::getline(in, line)) {
    nlohmann::json record = nlohmann::json::parse(line, nullptr, false);
    if (record.is_discarded() || !record.contains("step")) continue;  // a torn last line
    if (record["step"].get<int64_t>() <= step) kept += line + "\n";
  }
  write_file_atomically(path, kept);
}

}  // namespace mechlab
