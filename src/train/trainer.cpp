#include "train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <optional>

#include "analysis/analysis_plan.h"
#include "analysis/probe_dump.h"
#include "backend/backend.h"
#include "io/checkpoint.h"
#include "io/fault_injection.h"
#include "io/metrics_log.h"
#include "io/run_layout.h"
#include "train/eval_runner.h"
#include "train/phase_times.h"
#include "train/progress.h"
#include "train/step_runner.h"
#include "train/step_schedule.h"
#include "train/summary.h"

namespace mechlab {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {
// A metrics.jsonl record: the given fields, then the task metrics (when an evaluation ran).
nlohmann::ordered_json record_of(nlohmann::ordered_json fields, const Metrics* metrics) {
  if (metrics)
    for (const auto& [name, value] : *metrics) fields[name] = value;
  return fields;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// When to dump: outputs.dump_points log-spaced steps, every outputs.dump_every steps, or never (an empty
// optional).
std::optional<StepPlan> dump_plan(const OutputsConfig& outputs, int64_t last) {
  switch (outputs.dumps) {
    case DumpSchedule::log: return StepPlan({last, 1, 0, outputs.dump_points}, last);
    case DumpSchedule::every: return StepPlan({outputs.dump_every, 1, 0, 0}, last);
    case DumpSchedule::none: break;
  }
  return std::nullopt;
}
}  // namespace

Trainer::Trainer(const RunConfig& run, const Task& task, RunDirectory& directory)
    : run_(run), task_(task), directory_(directory) {}

TrainingOutcome Trainer::train(const std::atomic<bool>& stop) {
  PhaseTimes times;
  const auto run_start = Clock::now();
  auto log_times = [&] { directory_.log("time " + times.summary(seconds_since(run_start))); };
  const std::vector<ReplicaKey> keys = run_.replica_keys();
  const int64_t R = run_.replicas(), last = run_.train.steps;
  backend_for(run_.train.device).set_matmul_precision(run_.train.matmul_precision);
  backend_for(run_.train.device).allow_fused_attention(run_.train.fused_attention);
  Transformer model(run_.model, keys, DType::f32, run_.train.device);
  Optimizer optimizer(model.parameters(), run_.optim, R);
  const std::vector<fs::path> dirs = directory_.replica_dirs();

  const ResumePoint& resume = directory_.resume_point();
  int64_t step = resume.step, last_checkpoint = step;
  if (step > 0)
    for (int64_t r = 0; r < R; ++r) load_checkpoint(run_layout::checkpoint_path(dirs[r], step), model, &optimizer, r);
  std::vector<MetricsLog> logs;
  for (int64_t r = 0; r < R; ++r)
    logs.emplace_back(dirs[r] / run_layout::kMetrics, resume.metrics.empty() ? 0 : resume.metrics[r].records);

  const StepPlan evaluations(run_.train.evaluations, last), checkpoints(run_.train.checkpoints, last);
  const std::optional<StepPlan> dumps = dump_plan(run_.outputs, last);
  auto dump_due = [&](int64_t s) { return dumps && dumps->contains(s); };
  const Device device = run_.train.device;
  const Batch eval_batch = task_.sample(keys, run_.train.eval_batch_size, RandomStream::eval_data, 0).to(device);
  const Batch probe = task_.sample(keys, run_.outputs.probe_batch_size, RandomStream::probe, 0).to(device);

  const auto start = Clock::now();
  EvalRunner evaluation(model, task_, eval_batch, run_.train.cuda_graph);
  auto evaluate = [&] {
    fault_point("eval");
    return evaluation.evaluate(&times);
  };
  // The checkpoint of a stop request only served this resume; it goes once a newer one exists, so the
  // finished run holds the checkpoints an uninterrupted one would.
  const bool resumed_off_schedule = resume.interruption && !checkpoints.contains(step);
  auto save_all = [&](CheckpointReason reason) {
    const PhaseTimes::Scope timed = times.scope("checkpoints");
    for (int64_t r = 0; r < R; ++r) {
      fault_point("checkpoint");
      save_checkpoint(run_layout::checkpoint_path(dirs[r], step), model, &optimizer, r, step, run_.replica_config(r),
                      logs[r].records(), reason);
    }
    if (resumed_off_schedule && last_checkpoint == resume.step)
      for (const fs::path& dir : dirs) fs::remove(run_layout::checkpoint_path(dir, resume.step));
    last_checkpoint = step;
  };
  auto dump = [&](int64_t at) {
    const PhaseTimes::Scope timed = times.scope("dumps");
    fault_point("dump");
    write_probe_dump(model, probe, at, dirs);
    std::vector<fs::path> dump_dirs;
    for (const fs::path& dir : dirs) dump_dirs.push_back(run_layout::dump_dir(dir, at));
    task_.write_dump_analyses(model, dump_dirs);
  };
  // The analysis section's batches are drawn once, so every step analyses the same examples.
  const std::optional<AnalysisPlan> analyses =
      run_.analysis.enabled() ? std::optional(plan_analyses(run_.analysis.spec(), "analysis", run_, task_)) : std::nullopt;
  auto analyze_due = [&](int64_t at) {
    if (!analyses || !run_.analysis.due(at)) return;
    const PhaseTimes::Scope timed = times.scope("analyses");
    fault_point("analysis");
    run_analysis_plan(*analyses, model, run_layout::analysis_dir(directory_.root(), at),
                      {{"step", at}, {"model", "the live model of the run, during training"}},
                      [&](const std::string& line) { directory_.log(fmt::format("step {}: analysis {}", at, line)); });
  };
  if (step == 0) {
    write_probe_tokens(probe, dirs);
    const std::vector<Metrics> metrics = evaluate();
    for (int64_t r = 0; r < R; ++r) logs[r].append(record_of({{"step", 0}}, &metrics[r]));
    if (dump_due(0)) dump(0);
    analyze_due(0);
  }

  StepRunner runner(model, optimizer, run_.train.cuda_graph);
  Progress progress(step, last, run_.train.log_every);
  auto window_start = Clock::now();
  int64_t window_steps = 0;
  auto sample_for = [&](int64_t s) {
    return times.time("sampling",
                      [&] { return task_.sample(keys, run_.train.batch_size, RandomStream::data, static_cast<uint32_t>(s)); });
  };
  Batch next_batch = step < last ? sample_for(step) : Batch{};
  while (step < last) {
    const Batch batch = std::move(next_batch);
    const std::vector<double> lrs = optimizer.learning_rates();
    const Tensor step_losses = times.time("steps", [&] { return runner.step(batch); });
    if (step + 1 < last) next_batch = sample_for(step + 1);  // on the host while the device runs the step
    // Waits for the device: the rest of the step's time.
    const std::vector<double> losses = times.time("steps", [&] { return step_losses.to_vector<double>(); });
    ++step;
    ++window_steps;
    fault_point("step");
    for (int64_t r = 0; r < R; ++r)
      if (!std::isfinite(losses[r]))
        throw TrainingDiverged(fmt::format(
            "training loss is {} at step {} (seed {}); {}; try a lower optim.lr or set optim.clip_norm", losses[r],
            step, run_.seeds[r],
            last_checkpoint > 0
                ? fmt::format("the checkpoints up to step {} stay in {}", last_checkpoint, (dirs[r] / "checkpoints").string())
                : "no checkpoint was written before it"));

    const bool eval_now = evaluations.contains(step);
    if (eval_now || step % run_.train.log_every == 0 || step == last) {
      const double seconds = seconds_since(window_start);
      const double tokens = static_cast<double>(batch.targets.numel() * window_steps);
      const std::vector<Metrics> metrics = eval_now ? evaluate() : std::vector<Metrics>{};
      const std::vector<double> grad_norms = optimizer.last_grad_norms();
      const PhaseTimes::Scope timed = times.scope("metrics");
      for (int64_t r = 0; r < R; ++r)
        logs[r].append(record_of({{"step", step},
                                  {"loss", losses[r]},
                                  {"lr", lrs[r]},
                                  {"grad_norm", grad_norms[r]},
                                  {"tokens_per_s", seconds > 0 ? tokens / seconds : 0.0},
                                  {"elapsed_s", seconds_since(start)}},
                                 eval_now ? &metrics[r] : nullptr));
      window_start = Clock::now();
      window_steps = 0;
    }
    if (dump_due(step)) dump(step);
    analyze_due(step);
    const bool stopping = stop.load();
    if (checkpoints.contains(step)) {
      save_all(CheckpointReason::schedule);
    } else if (stopping) {
      save_all(CheckpointReason::interruption);
    }
    progress.update(step, losses);
    if (stopping) {
      progress.finish();
      directory_.log(fmt::format("interrupted at step {}; checkpoint written", step));
      log_times();
      return TrainingOutcome::interrupted;
    }
  }
  progress.finish();
  if (stop.load()) {  // after the last step's checkpoint, before the summaries
    directory_.log(fmt::format("interrupted after step {}, before the summaries; checkpoint written", step));
    log_times();
    return TrainingOutcome::interrupted;
  }
  for (int64_t r = 0; r < R; ++r) {
    const PhaseTimes::Scope timed = times.scope("summaries");
    fault_point("summary");
    write_summary(run_, r, dirs[r]);
  }
  directory_.log(fmt::format("finished {} steps", last));
  log_times();
  return TrainingOutcome::finished;
}

}  // namespace mechlab
