#include "analysis/analysis_plan.h"

#include <fmt/format.h>

#include <chrono>
#include <regex>
#include <set>

#include "analysis/result_writer.h"
#include "backend/backend.h"
#include "config/config_error.h"
#include "train/memory_estimate.h"

namespace mechlab {

namespace {
Batch in_model_precision(Batch batch, const Transformer& model) {
  auto convert = [&](const Tensor& x) {
    if (!x.defined()) return x;
    return (x.dtype() == DType::i32 ? x : x.to(model.dtype())).to(model.device());
  };
  batch.inputs = convert(batch.inputs);
  batch.targets = convert(batch.targets);
  batch.loss_mask = convert(batch.loss_mask);
  return batch;
}
}  // namespace

AnalysisPlan plan_analyses(const nlohmann::json& spec, const std::string& where, const RunConfig& run, const Task& task) {
  auto path = [&](const std::string& key) { return where.empty() ? key : where + "." + key; };
  SpecReader top(spec, where.empty() ? "(spec)" : where);
  top.only({"analyses", "batch", "batch_size", "chunk", "contrast"});
  AnalysisPlan plan;
  // "contrast": the task's clean/corrupted pairs; "eval": the run's own evaluation batch (no corrupted side),
  // on which ablations give exactly the metrics the run logged.
  const bool eval_batch = top.choice("batch", {"contrast", "eval"}, "contrast") == "eval";
  plan.batch_size = eval_batch ? run.train.eval_batch_size : top.integer("batch_size", 64, 1, 1 << 20);
  plan.chunk = top.integer("chunk", 16, 1, 1 << 16);
  if (eval_batch && top.has("batch_size"))
    throw ConfigError(path("batch_size"), "the eval batch has the run's train.eval_batch_size; remove batch_size");
  if (!spec.contains("analyses") || !spec["analyses"].is_array() || spec["analyses"].empty())
    throw ConfigError(path("analyses"), "give a non-empty list of analyses, e.g. [{\"name\": \"heads\", \"kind\": \"ablation\"}]");

  // "contrast": which of the task's corruptions (its first when not given).
  const std::vector<std::string> kinds = task.contrast_kinds();
  std::string kind;
  if (top.has("contrast")) {
    if (eval_batch) throw ConfigError(path("contrast"), "the eval batch has no corrupted side; remove contrast");
    if (kinds.empty()) throw ConfigError(path("contrast"), "this task has one contrast batch; remove contrast");
    kind = top.choice("contrast", kinds, kinds.front());
  }
  const std::vector<ReplicaKey> keys = run.replica_keys();
  SpecTarget target{run.model, task.analysis_metrics(), task.sequence_length(), false, {}};
  try {
    if (eval_batch) throw std::invalid_argument("the eval batch has no corrupted side");
    plan.contrast = task.contrast_batch(keys, plan.batch_size, kind);
    target.has_contrast = true;
  } catch (const std::invalid_argument&) {
    plan.contrast.clean =
        task.sample(keys, plan.batch_size, eval_batch ? RandomStream::eval_data : RandomStream::analysis, 0);
    task.annotate(plan.contrast.clean);
    plan.contrast.corrupted = plan.contrast.clean;
    plan.contrast.description = eval_batch ? "the run's evaluation batch" : "none: the task has no contrast batches";
  }
  for (const auto& [role, positions] : plan.contrast.clean.annotations.positions) target.position_roles.push_back(role);
  for (const auto& [label, values] : plan.contrast.clean.annotations.labels) target.labels.push_back(label);
  std::set<std::string> seen;
  for (size_t i = 0; i < spec["analyses"].size(); ++i) {
    SpecReader entry(spec["analyses"][i], path(fmt::format("analyses[{}]", i)));
    const std::string name = entry.required_string("name");
    if (!std::regex_match(name, std::regex("[A-Za-z0-9_.-]+")) || name == "." || name == "..")
      throw ConfigError(entry.at("name"), "must be letters, digits, '_', '-' or '.' (it names a folder)");
    if (std::regex_match(name, std::regex("step_[0-9]+")) || name == "batch")
      throw ConfigError(entry.at("name"), "'" + name + "' is kept for mechlab's own folders (step_<N>: analyses during "
                                          "training; batch: the examples analysed); rename it");
    if (!seen.insert(name).second) throw ConfigError(entry.at("name"), "'" + name + "' names two analyses; rename one");
    plan.entries.push_back({name, spec["analyses"][i], parse_analysis(entry, target)});
  }
  plan.reference = task.reference_batch(keys, plan.batch_size);
  task.annotate(plan.reference);
  return plan;
}

void run_analysis_plan(const AnalysisPlan& plan, const Transformer& model, const std::filesystem::path& folder,
                       const nlohmann::json& made, const std::function<void(const std::string&)>& log) {
  const AnalysisContext context{model,
                                {in_model_precision(plan.contrast.clean, model),
                                 in_model_precision(plan.contrast.corrupted, model), plan.contrast.description},
                                in_model_precision(plan.reference, model),
                                plan.chunk};
  write_analysis_batch(folder / "batch", plan.contrast, model.replicas());
  Backend& backend = backend_for(model.device());
  for (const AnalysisPlan::Entry& entry : plan.entries) {
    const auto start = std::chrono::steady_clock::now();
    backend.reset_peak();
    const size_t before = backend.live_bytes();
    const AnalysisResult result = entry.analysis->run(context);
    const double peak = static_cast<double>(backend.peak_live_bytes() - before);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    nlohmann::json info = made;
    info.update({{"batch_size", plan.batch_size},
                 {"chunk", plan.chunk},
                 {"device", model.device() == Device::cuda ? "cuda" : "cpu"},
                 {"dtype", model.dtype() == DType::f64 ? "f64" : "f32"},
                 {"peak_memory_bytes", peak},
                 {"seconds", seconds},
                 {"spec", entry.spec}});
    const std::filesystem::path out = folder / entry.name;
    write_analysis_result(out, result, model.replicas(), info);
    log(fmt::format("{} ({}) in {:.2f} s, peak memory {} -> {}", entry.name, entry.spec.value("kind", ""), seconds,
                    bytes_text(peak), out.string()));
  }
}

}  // namespace mechlab
