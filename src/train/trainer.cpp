#include "train/trainer.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <set>

#include "analysis/probe_dump.h"
#include "autograd/grad_mode.h"
#include "backend/backend.h"
#include "io/atomic_file.h"
#include "io/checkpoint.h"
#include "io/metrics_log.h"
#include "train/eval_runner.h"
#include "train/progress.h"
#include "train/step_runner.h"
#include "train/step_schedule.h"

namespace mechlab {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {
// The latest step at which every replica has a checkpoint (replicas are saved one after another, so a
// kill can leave the newest step incomplete), or 0 when there is none.
int64_t latest_common_checkpoint(const std::vector<fs::path>& dirs) {
  auto latest = latest_checkpoint(dirs[0]);
  if (!latest) return 0;
  for (int64_t step = read_checkpoint_info(*latest).step; step > 0; --step) {
    bool everywhere = true;
    for (const fs::path& dir : dirs) everywhere = everywhere && fs::exists(checkpoint_path(dir, step));
    if (everywhere) return step;
  }
  return 0;
}

std::set<int64_t> to_set(const std::vector<int64_t>& steps) { return {steps.begin(), steps.end()}; }

// A metrics.jsonl record: the given fields, then the task metrics (when an evaluation ran).
nlohmann::ordered_json record_of(nlohmann::ordered_json fields, const Metrics* metrics) {
  if (metrics)
    for (const auto& [name, value] : *metrics) fields[name] = value;
  return fields;
}

// summary.json of each replica: the final evaluation and the last training loss (null when this
// invocation ran no step, i.e. it resumed from the last checkpoint).
void write_summaries(const RunConfig& run, const std::vector<fs::path>& dirs, const std::vector<double>* last_losses,
                     const std::vector<Metrics>& metrics) {
  for (size_t r = 0; r < dirs.size(); ++r) {
    nlohmann::ordered_json fields{{"name", run.name}, {"seed", run.seeds[r]}, {"steps", run.train.steps},
                                  {"final_train_loss", last_losses ? nlohmann::ordered_json((*last_losses)[r]) : nullptr}};
    write_file_atomically(dirs[r] / "summary.json", record_of(fields, &metrics[r]).dump(2) + "\n");
  }
}
}  // namespace

Trainer::Trainer(const RunConfig& run, const Task& task, RunDirectory& directory)
    : run_(run), task_(task), directory_(directory) {}

TrainingOutcome Trainer::train(const std::atomic<bool>& stop) {
  const std::vector<ReplicaKey> keys = run_.replica_keys();
  const int64_t R = run_.replicas(), last = run_.train.steps;
  backend_for(run_.train.device).set_matmul_precision(run_.train.matmul_precision);
  Transformer model(run_.model, keys, DType::f32, run_.train.device);
  Optimizer optimizer(model.parameters(), run_.optim, R);
  std::vector<fs::path> dirs;
  for (int64_t r = 0; r < R; ++r) dirs.push_back(directory_.replica_dir(r));

  int64_t step = 0;
  if (directory_.state() == RunState::resume) {
    step = latest_common_checkpoint(dirs);
    if (step > 0)
      for (int64_t r = 0; r < R; ++r) load_checkpoint(checkpoint_path(dirs[r], step), model, &optimizer, r);
    for (const fs::path& dir : dirs) MetricsLog::truncate_after(dir / "metrics.jsonl", step - (step == 0));
    directory_.log(fmt::format("resuming from step {}", step));
  }

  const std::set<int64_t> eval_steps = to_set(scheduled_steps(run_.train.evaluations, last));
  const std::set<int64_t> checkpoint_steps = to_set(scheduled_steps(run_.train.checkpoints, last));
  std::set<int64_t> dump_steps;
  if (run_.outputs.dumps == DumpSchedule::log) dump_steps = to_set(log_spaced_steps(run_.outputs.dump_points, last));
  if (run_.outputs.dumps == DumpSchedule::every) dump_steps = to_set(every_n_steps(run_.outputs.dump_every, last));

  const Device device = run_.train.device;
  const Batch eval_batch = task_.sample(keys, run_.train.eval_batch_size, RandomStream::eval_data, 0).to(device);
  const Batch probe = task_.sample(keys, run_.outputs.probe_batch_size, RandomStream::probe, 0).to(device);
  std::vector<MetricsLog> logs;
  for (const fs::path& dir : dirs) logs.emplace_back(dir / "metrics.jsonl");

  const auto start = Clock::now();
  EvalRunner evaluation(model, task_, eval_batch, run_.train.cuda_graph);
  auto evaluate = [&] { return evaluation.evaluate(); };
  auto save_all = [&] {
    for (int64_t r = 0; r < R; ++r)
      save_checkpoint(checkpoint_path(dirs[r], step), model, &optimizer, r, step, run_.replica_config(r));
  };
  auto dump = [&](int64_t at) {
    write_probe_dump(model, probe, at, dirs);
    std::vector<fs::path> dump_dirs;
    for (const fs::path& dir : dirs) dump_dirs.push_back(dump_dir(dir, at));
    task_.write_dump_analyses(model, dump_dirs);
  };
  std::vector<Metrics> final_metrics;
  if (step == 0) {
    write_probe_tokens(probe, dirs);
    final_metrics = evaluate();
    for (int64_t r = 0; r < R; ++r) logs[r].append(record_of({{"step", 0}}, &final_metrics[r]));
    if (dump_steps.count(0)) dump(0);
  }

  StepRunner runner(model, optimizer, run_.train.cuda_graph);
  Progress progress(step, last, run_.train.log_every);
  std::vector<double> losses;
  auto window_start = Clock::now();
  int64_t window_steps = 0;
  auto sample_for = [&](int64_t s) {
    return task_.sample(keys, run_.train.batch_size, RandomStream::data, static_cast<uint32_t>(s));
  };
  Batch next_batch = step < last ? sample_for(step) : Batch{};
  while (step < last) {
    const Batch batch = std::move(next_batch);
    const std::vector<double> lrs = optimizer.learning_rates();
    const Tensor step_losses = runner.step(batch);
    if (step + 1 < last) next_batch = sample_for(step + 1);  // on the host while the device runs the step
    losses = step_losses.to_vector<double>();
    ++step;
    ++window_steps;
    for (int64_t r = 0; r < R; ++r)
      if (!std::isfinite(losses[r]))
        throw TrainingDiverged(fmt::format(
            "training loss is {} at step {} (seed {}); the last good checkpoint stays in {}; try a lower optim.lr "
            "or set optim.clip_norm",
            losses[r], step, run_.seeds[r], (dirs[r] / "checkpoints").string()));

    const bool eval_now = eval_steps.count(step) > 0;
    if (eval_now || step % run_.train.log_every == 0 || step == last) {
      const double seconds = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double tokens = static_cast<double>(batch.targets.numel() * window_steps);
      if (eval_now) final_metrics = evaluate();
      const std::vector<double> grad_norms = optimizer.last_grad_norms();
      for (int64_t r = 0; r < R; ++r)
        logs[r].append(record_of({{"step", step},
                                  {"loss", losses[r]},
                                  {"lr", lrs[r]},
                                  {"grad_norm", grad_norms[r]},
                                  {"tokens_per_s", seconds > 0 ? tokens / seconds : 0.0},
                                  {"elapsed_s", std::chrono::duration<double>(Clock::now() - start).count()}},
                                 eval_now ? &final_metrics[r] : nullptr));
      window_start = Clock::now();
      window_steps = 0;
    }
    if (dump_steps.count(step)) dump(step);
    const bool stopping = stop.load();
    if (checkpoint_steps.count(step) || stopping) save_all();
    progress.update(step, losses[0]);
    if (stopping) {
      progress.finish();
      directory_.log(fmt::format("interrupted at step {}; checkpoint written", step));
      return TrainingOutcome::interrupted;
    }
  }
  progress.finish();
  if (final_metrics.empty()) final_metrics = evaluate();  // resumed from a checkpoint of the last step

  write_summaries(run_, dirs, losses.empty() ? nullptr : &losses, final_metrics);
  directory_.log(fmt::format("finished {} steps", last));
  return TrainingOutcome::finished;
}

}  // namespace mechlab
