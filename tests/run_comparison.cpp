#include "run_comparison.h"

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "subprocess.h"

namespace mechlab::testing {

namespace fs = std::filesystem;

namespace {
std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (name == "log.txt" || name == "provenance.json" || name == ".mechlab.lock") continue;
    files.insert(fs::relative(entry.path(), root).string());
  }
  return files;
}

// metrics.jsonl without the fields that measure time.
std::string without_timings(const std::string& text) {
  std::istringstream lines(text);
  std::string out;
  for (std::string line; std::getline(lines, line);) {
    nlohmann::ordered_json record = nlohmann::ordered_json::parse(line, nullptr, false);
    if (record.is_discarded()) return text;  // compared as it is, and found different
    record.erase("elapsed_s");
    record.erase("tokens_per_s");
    out += record.dump() + "\n";
  }
  return out;
}
// config.json without outputs.dir, which names where the run is.
std::string without_directory(const std::string& text) {
  nlohmann::ordered_json config = nlohmann::ordered_json::parse(text, nullptr, false);
  if (config.is_discarded() || !config.contains("outputs")) return text;
  config["outputs"].erase("dir");
  return config.dump();
}
// An analysis's table.json without the seconds it took.
std::string without_duration(const std::string& text) {
  nlohmann::ordered_json table = nlohmann::ordered_json::parse(text, nullptr, false);
  if (table.is_discarded() || !table.contains("made")) return text;
  table["made"].erase("seconds");
  return table.dump();
}
}  // namespace

std::vector<std::string> run_differences(const fs::path& a, const fs::path& b) {
  const std::set<std::string> in_a = files_under(a), in_b = files_under(b);
  std::vector<std::string> differences;
  for (const std::string& file : in_a)
    if (!in_b.count(file)) differences.push_back(file + " (only in " + a.filename().string() + ")");
  for (const std::string& file : in_b)
    if (!in_a.count(file)) differences.push_back(file + " (only in " + b.filename().string() + ")");
  for (const std::string& file : in_a) {
    if (!in_b.count(file)) continue;
    std::string x = read_text(a / file), y = read_text(b / file);
    if (fs::path(file).filename() == "metrics.jsonl") {
      x = without_timings(x);
      y = without_timings(y);
    }
    if (fs::path(file).filename() == "config.json") {
      x = without_directory(x);
      y = without_directory(y);
    }
    if (fs::path(file).filename() == "table.json") {
      x = without_duration(x);
      y = without_duration(y);
    }
    if (x != y) differences.push_back(file);
  }
  return differences;
}

std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> entries;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
    if (it->path().filename() == ".mechlab.lock") continue;
    const fs::file_status status = it->symlink_status();
    const std::string name = it->path().lexically_relative(dir).string();
    if (fs::is_symlink(status)) {
      entries[name] = "link to " + fs::read_symlink(it->path()).string();
      it.disable_recursion_pending();
    } else {
      entries[name] = fs::is_regular_file(status) ? read_text(it->path()) : "directory";
    }
  }
  return entries;
}

}  // namespace mechlab::testing
