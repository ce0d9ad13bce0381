// mechlab analyze RUN_DIR [--step N | --checkpoint FILE] SPEC.json [key=value ...]: loads a run's checkpoint
// (every replica's), checks every entry of the spec against the model and the task, then runs them one by one
// and writes RUN_DIR/analysis/<name>/ for each (analysis/result_writer.h). Nothing is written before the
// whole spec has been checked.
#include <fmt/format.h>

#include <regex>

#include "analysis/analysis_plan.h"
#include "backend/backend.h"
#include "cli/commands.h"
#include "config/config_error.h"
#include "config/json_file.h"
#include "config/run_config.h"
#include "config/run_schema.h"
#include "io/checkpoint.h"
#include "io/run_layout.h"
#include "task/registry.h"

namespace mechlab::cli {

namespace fs = std::filesystem;

namespace {
struct AnalyzeOptions {
  std::string run_dir, spec, checkpoint, device = "cpu";
  std::vector<std::string> overrides;
  int64_t step = -1;
  bool f64 = false;
};

// `key.path=value` into the spec: dotted keys, numbers index lists ("analyses.0.metric=loss"); the value is
// JSON when it parses as JSON, else a string.
void apply_spec_override(nlohmann::json& spec, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0)
    throw ConfigError(assignment, "an override is key.path=value, e.g. batch_size=32 or analyses.0.metric=loss");
  const std::string key = assignment.substr(0, equals), text = assignment.substr(equals + 1);
  nlohmann::json value;
  try {
    value = parse_json_text(text, key);
  } catch (const ConfigError&) {
    value = text;
  }
  nlohmann::json* at = &spec;
  std::string walked;
  size_t start = 0;
  while (true) {
    const size_t dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    walked += (walked.empty() ? "" : ".") + part;
    const bool last = dot == std::string::npos;
    if (at->is_array()) {
      if (!std::regex_match(part, std::regex("[0-9]+")) || std::stoul(part) >= at->size())
        throw ConfigError(walked, fmt::format("is not an index of a list of {} entries", at->size()));
      at = &(*at)[std::stoul(part)];
    } else if (at->is_object()) {
      at = &(*at)[part];
    } else {
      throw ConfigError(walked, "is inside a value that is neither an object nor a list");
    }
    if (last) break;
    start = dot + 1;
  }
  *at = value;
}

// The replica folders of a run: the root alone, or root/replica_<r>.
std::vector<fs::path> replica_folders(const fs::path& root) {
  std::vector<fs::path> folders;
  for (int64_t r = 0; fs::exists(run_layout::replica_dir(root, r, 2) / run_layout::kConfig); ++r)
    folders.push_back(run_layout::replica_dir(root, r, 2));
  if (folders.empty()) folders.push_back(root);
  return folders;
}

int analyze(const AnalyzeOptions& o) {
  const fs::path root = o.run_dir;
  if (!fs::is_directory(root)) throw ConfigError("RUN_DIR", "'" + o.run_dir + "' is not a directory; give a run directory");
  if (!fs::exists(root / run_layout::kProvenance))
    throw ConfigError("RUN_DIR", "'" + o.run_dir + "' is not a mechlab run directory (no provenance.json)");
  // The checkpoint of each replica at the same step.
  std::vector<fs::path> checkpoints;
  if (!o.checkpoint.empty()) {
    checkpoints.push_back(o.checkpoint);
  } else {
    for (const fs::path& replica : replica_folders(root)) {
      const std::vector<int64_t> steps = run_layout::checkpoint_steps(replica);
      if (steps.empty()) throw ConfigError("RUN_DIR", replica.string() + " has no checkpoints; train it first");
      const int64_t step = o.step >= 0 ? o.step : steps.front();
      if (std::find(steps.begin(), steps.end(), step) == steps.end()) {
        throw ConfigError("--step", fmt::format("{} has no checkpoint at step {}; its checkpoints: {}", replica.string(), step,
                                                fmt::join(steps.rbegin(), steps.rend(), ", ")));
      }
      checkpoints.push_back(run_layout::checkpoint_path(replica, step));
    }
  }
  std::vector<Checkpoint> read;
  for (const fs::path& path : checkpoints) {
    try {
      read.push_back(read_checkpoint(path));
    } catch (const std::runtime_error& error) {
      throw ConfigError("checkpoint", error.what());
    }
  }
  RunConfig run;
  std::vector<uint64_t> seeds;
  for (const Checkpoint& c : read) {
    try {
      run = run_config_from_resolved(run_schema().resolve(c.info.config));
      run.model.validate();
    } catch (const std::exception& error) {
      throw ConfigError("checkpoint", fmt::format("its config is not one this mechlab can run: {}", error.what()));
    }
    seeds.push_back(run.seeds.at(0));
  }
  run.seeds = seeds;  // each checkpoint's config names its own replica's seed
  const std::unique_ptr<Task> task = make_task(run.task);
  const Device device = o.device == "cuda" ? Device::cuda : Device::cpu;
  // The spec, with overrides, checked whole before anything runs.
  nlohmann::json spec = read_json_file(o.spec);
  if (spec.is_array()) spec = {{"analyses", spec}};
  for (const std::string& assignment : o.overrides) apply_spec_override(spec, assignment);
  const AnalysisPlan plan = plan_analyses(spec, "", run, *task);

  if (device == Device::cuda && !cuda_backend_or_null())
    throw ConfigError("--device", "no usable CUDA GPU (or mechlab was built without nvcc); use cpu");
  Transformer model(run.model, run.replica_keys(), o.f64 ? DType::f64 : DType::f32, device);
  for (size_t r = 0; r < read.size(); ++r) load_checkpoint(read[r], model, nullptr, static_cast<int64_t>(r));
  nlohmann::json made{{"step", read[0].info.step}, {"checkpoints", nlohmann::json::array()}};
  for (const fs::path& c : checkpoints) made["checkpoints"].push_back(c.string());
  run_analysis_plan(plan, model, root / "analysis", made,
                    [](const std::string& line) { fmt::print(stderr, "mechlab: {}\n", line); });
  return 0;
}
}  // namespace

Command add_analyze(CLI::App& app) {
  auto o = std::make_shared<AnalyzeOptions>();
  CLI::App* sub = app.add_subcommand("analyze", "Run the analyses of a spec (ablation, patching, attribution, circuits) on a checkpoint");
  sub->add_option("run_dir", o->run_dir, "a run directory")->required();
  sub->add_option("spec", o->spec, "analysis spec (JSON), see docs/analysis.md")->required();
  sub->add_option("overrides", o->overrides, "key.path=value changes to the spec (batch_size=32, analyses.0.metric=loss)");
  auto* step = sub->add_option("--step", o->step, "the checkpoint of this step (default: the latest)")->check(CLI::NonNegativeNumber);
  sub->add_option("--checkpoint", o->checkpoint, "a checkpoint file instead of --step (one replica)")->excludes(step);
  sub->add_option("--device", o->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_flag("--f64", o->f64, "compute in double precision");
  return [o] { return analyze(*o); };
}

}  // namespace mechlab::cli
