#include "config/run_config.h"

#include <algorithm>

#include <fmt/format.h>

#include "config/config_error.h"
#include "config/run_schema.h"
#include "config/value_check.h"

namespace mechlab {

namespace {
// The run name becomes a directory under results/, so it must not climb out of it or hide there.
void check_name(const std::string& name) {
  if (!config_detail::is_plain_name(name))
    throw ConfigError("name", "'" + name + "' cannot name a run directory; use letters, digits, '.', '_' and '-' "
                                           "(not starting with '.'), e.g. bigram_backcopy_quick");
}

// AdamW scales every weight by 1 - lr * weight_decay at each step (the schedule's factor is at most 1): from 1 on
// that zeroes or flips the weights, and the run diverges with a message that blames the learning rate.
void check_decoupled_decay(const OptimizerConfig& optim) {
  if (optim.kind != OptimizerKind::adamw || optim.weight_decay == 0) return;
  const double lr = *std::max_element(optim.lr.begin(), optim.lr.end());
  if (lr * optim.weight_decay >= 1)
    throw ConfigError("optim.weight_decay", fmt::format("{:g} times optim.lr {:g} is {:g}, so AdamW would multiply "
                                                        "every weight by {:g} each step; use a weight decay below {:g} "
                                                        "(1 / lr; 0.01 - 0.1 is usual)",
                                                        optim.weight_decay, lr, lr * optim.weight_decay,
                                                        1 - lr * optim.weight_decay, 1 / lr));
}
}  // namespace

RunConfig run_config_from_resolved(const nlohmann::json& resolved) {
  RunConfig run = run_binding().read(resolved);
  run.resolved = resolved;
  run.task = resolved["task"];
  check_name(run.name);
  if (run.seeds.empty()) run.seeds = {run.seed};
  if (run.optim.lr.size() != 1 && static_cast<int64_t>(run.optim.lr.size()) != run.replicas())
    throw ConfigError("optim.lr", "give one learning rate or one per seed (" + std::to_string(run.replicas()) +
                                      "), got " + std::to_string(run.optim.lr.size()));
  run.optim.schedule.total_steps = run.train.steps;
  for (size_t i = 0; i < run.analysis.steps.size(); ++i)
    if (run.analysis.steps[i] > run.train.steps)
      throw ConfigError("analysis.steps[" + std::to_string(i) + "]",
                        std::to_string(run.analysis.steps[i]) + " is past train.steps (" + std::to_string(run.train.steps) + ")");
  if (!run.analysis.enabled() && (!run.analysis.steps.empty() || run.analysis.every > 0))
    throw ConfigError("analysis.analyses", "is empty, so analysis.steps and analysis.every do nothing; list the analyses "
                                           "to run (docs/analysis.md)");
  if (run.analysis.enabled() && run.analysis.steps.empty() && run.analysis.every == 0)
    throw ConfigError("analysis.steps", "give the steps to run analysis.analyses at (or analysis.every)");
  if (run.optim.schedule.kind == ScheduleKind::warmup_cosine && run.optim.schedule.warmup_steps > run.train.steps)
    throw ConfigError("optim.warmup_steps", "is longer than train.steps (" + std::to_string(run.train.steps) + ")");
  check_decoupled_decay(run.optim);
  return run;
}

bool AnalysisConfig::due(int64_t step) const {
  if (!enabled()) return false;
  if (every > 0 && step > 0 && step % every == 0) return true;
  return std::find(steps.begin(), steps.end(), step) != steps.end();
}

nlohmann::json AnalysisConfig::spec() const {
  nlohmann::json spec{{"batch", name_of(batch)}, {"chunk", chunk}, {"analyses", analyses}};
  if (batch == AnalysisBatchKind::contrast) spec["batch_size"] = batch_size;
  return spec;
}

nlohmann::json RunConfig::replica_config(int64_t r) const {
  nlohmann::json single = resolved;
  single["seed"] = seeds[r];
  single["seeds"] = nlohmann::json::array();
  single["optim"]["lr"] = optim.lr.size() == 1 ? optim.lr[0] : optim.lr[r];
  return single;
}

}  // namespace mechlab
