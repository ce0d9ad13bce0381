#include "sweep/sweep_collect.h"

#include <algorithm>

#include "io/atomic_file.h"
#include "io/run_layout.h"
#include "sweep/sweep_layout.h"
#include "sweep/sweep_status.h"

namespace mechlab {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {
// A CSV field: numbers and booleans as JSON writes them, strings quoted when they need it, lists as JSON text.
std::string csv_field(const json& value) {
  if (value.is_null()) return "";
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}
}  // namespace

CollectCounts collect_sweep(const SweepManifest& sweep) {
  const std::vector<PackStatus> packs = sweep_status(sweep);
  std::vector<json> rows;
  std::vector<std::string> columns{"run", "hash", "seed", "pack", "state"};
  for (const std::string& key : sweep.swept) columns.push_back(key);
  const size_t fixed = columns.size();
  CollectCounts counts;
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    const ManifestRun& run = sweep.runs[i];
    const int64_t replicas = static_cast<int64_t>(sweep.packs[run.pack].runs.size());
    const fs::path summary_file =
        run_layout::replica_dir(sweep_layout::pack_dir(sweep.dir, run.pack), run.replica, replicas) / run_layout::kSummary;
    const bool done = fs::exists(summary_file);
    json row{{"run", i}, {"hash", run.hash}, {"seed", run.seed}, {"pack", run.pack},
             {"state", done ? "done" : state_name(packs[run.pack].state)}};
    for (const std::string& key : sweep.swept) row[key] = run.overrides.contains(key) ? json(run.overrides[key]) : json();
    if (done) {
      ++counts.done;
      const json summary = json::parse(read_file(summary_file));  // in the file's order: steps, loss, metrics
      for (const auto& [key, value] : summary.items()) {
        if (key == "name" || key == "seed" || !(value.is_number() || value.is_boolean())) continue;
        if (std::find(columns.begin() + static_cast<std::ptrdiff_t>(fixed), columns.end(), key) == columns.end())
          columns.push_back(key);
        row[key] = value;
      }
    }
    rows.push_back(std::move(row));
  }
  std::string csv, jsonl;
  for (size_t c = 0; c < columns.size(); ++c) csv += (c ? "," : "") + csv_field(columns[c]);
  csv += "\n";
  for (const json& row : rows) {
    json full;
    for (size_t c = 0; c < columns.size(); ++c) {
      const json value = row.contains(columns[c]) ? row[columns[c]] : json();
      csv += (c ? "," : "") + csv_field(value);
      full[columns[c]] = value;
    }
    csv += "\n";
    jsonl += full.dump() + "\n";
  }
  write_file_atomically(sweep.dir / sweep_layout::kResultsCsv, csv);
  write_file_atomically(sweep.dir / sweep_layout::kResultsJsonl, jsonl);
  counts.rows = rows.size();
  counts.columns = columns.size();
  return counts;
}

}  // namespace mechlab
