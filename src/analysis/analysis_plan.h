// A spec (docs/analysis.md) checked whole against a run's model and task, with the batches it runs on, ready
// to run on any model of that config: a checkpoint's in `mechlab analyze`, the live one during training (a run
// config's `analysis` section). Checking first means a bad spec writes nothing.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/analysis.h"
#include "config/run_config.h"

namespace mechlab {

struct AnalysisPlan {
  struct Entry {
    std::string name;      // its folder
    nlohmann::json spec;   // the entry as written, for table.json
    std::unique_ptr<Analysis> analysis;
  };
  std::vector<Entry> entries;
  int64_t batch_size = 0;
  int64_t chunk = 16;
  ContrastBatch contrast;  // on the host, in f32
  Batch reference;         // for mean and resample ablations
};

// `where` is the JSON path of the spec in messages: "" for a spec file ("analyses[0].kind"), "analysis" for a
// run config's section ("analysis.analyses[0].kind"). Throws ConfigError naming the path of the first mistake.
AnalysisPlan plan_analyses(const nlohmann::json& spec, const std::string& where, const RunConfig& run, const Task& task);

// Runs every entry on `model` (its device and dtype) and writes folder/<name>/ for each; table.json's "made"
// gets `made` plus the batch, chunk, device, dtype, peak memory and seconds of the entry. `log` hears one line per entry.
void run_analysis_plan(const AnalysisPlan& plan, const Transformer& model, const std::filesystem::path& folder,
                       const nlohmann::json& made, const std::function<void(const std::string&)>& log);

}  // namespace mechlab
