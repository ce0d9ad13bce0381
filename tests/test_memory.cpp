// The memory check before a run (train/memory_estimate.h): each part of the estimate must bound what the
// CPU allocator really holds at its peak for that part (measured 1.1x to 3.2x above it), without overstating
// it so much that it refuses runs that fit.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "analysis/probe_dump.h"
#include "backend/cpu/cpu_backend.h"
#include "config/load_config.h"
#include "nn/memory_model.h"
#include "nn/parameter_specs.h"
#include "subprocess.h"
#include "train/eval_runner.h"
#include "train/memory_estimate.h"
#include "train/step_runner.h"

using namespace mechlab;
using nlohmann::json;

namespace {
CpuBackend& cpu() { return dynamic_cast<CpuBackend&>(backend_for(Device::cpu)); }

struct Measured {
  double training, evaluation, probe;
};

// Peak bytes above what was live before, for a training step, an evaluation and a probe dump.
Measured measure(const LoadedConfig& loaded, const std::filesystem::path& dir) {
  const RunConfig& run = loaded.run;
  const Task& task = *loaded.task;
  const std::vector<ReplicaKey> keys = run.replica_keys();
  Transformer model(run.model, keys);
  Optimizer optimizer(model.parameters(), run.optim, run.replicas());
  StepRunner runner(model, optimizer, false);
  const Batch batch = task.sample(keys, run.train.batch_size, RandomStream::data, 0);
  runner.step(batch);  // the optimizer's state exists from here on
  auto peak_of = [](auto&& work) {
    const double before = static_cast<double>(cpu().live_bytes());
    cpu().reset_peak();
    work();
    return static_cast<double>(cpu().peak_live_bytes()) - before;
  };
  Measured m{};
  m.training = peak_of([&] { runner.step(batch); });
  EvalRunner evaluation(model, task, task.sample(keys, run.train.eval_batch_size, RandomStream::eval_data, 0), false);
  m.evaluation = peak_of([&] { evaluation.evaluate(); });
  const Batch probe = task.sample(keys, run.outputs.probe_batch_size, RandomStream::probe, 0);
  std::vector<std::filesystem::path> dirs;
  for (int64_t r = 0; r < run.replicas(); ++r) {
    dirs.push_back(dir / ("replica_" + std::to_string(r)));
    std::filesystem::create_directories(dirs.back() / "dumps");
  }
  m.probe = peak_of([&] { write_probe_dump(model, probe, 0, dirs); });
  return m;
}

LoadedConfig loaded_from(const json& config, const std::filesystem::path& dir) {
  testing::write_text(dir / "config.json", config.dump());
  return load_config(dir / "config.json", {});
}

json bigram(int layers, int heads, int d_model, int d_mlp, int seq_len, int batch) {
  return {{"name", "memory"},
          {"task", {{"name", "bigram_backcopy"}, {"seq_len", seq_len}}},
          {"model", {{"n_layers", layers}, {"n_heads", heads}, {"d_model", d_model}, {"d_mlp", d_mlp}}},
          {"train", {{"batch_size", batch}, {"eval_batch_size", batch}}},
          {"outputs", {{"probe_batch_size", 4}}}};
}
}  // namespace

TEST_CASE("the memory estimate bounds each part's measured peak, within a factor of 3.5") {
  std::vector<json> configs = {
      bigram(1, 1, 64, 256, 64, 32),  bigram(2, 4, 64, 256, 64, 16), bigram(1, 2, 16, 32, 256, 8),
      bigram(3, 1, 128, 512, 96, 8),  bigram(2, 8, 32, 0, 128, 8),
  };
  json replicas = bigram(2, 2, 32, 64, 32, 8);
  replicas["seeds"] = {1, 2, 3};
  configs.push_back(replicas);
  json icl = json::parse(testing::read_text(testing::source_dir() + "/configs/icl_linreg/quick_h2.json"));
  icl["train"]["batch_size"] = 64;
  icl["train"]["eval_batch_size"] = 512;
  configs.push_back(icl);
  for (const json& config : configs) {
    testing::TempDir dir;
    const LoadedConfig loaded = loaded_from(config, dir.path());
    const Measured measured = measure(loaded, dir.path());
    const std::vector<MemoryPart> parts = estimate_memory(loaded.run, *loaded.task);
    // parts: parameters, training, evaluation, probe (then the task's analyses).
    const double estimates[] = {parts[1].bytes, parts[2].bytes, parts[3].bytes};
    const double measurements[] = {measured.training, measured.evaluation, measured.probe};
    for (int i = 0; i < 3; ++i) {
      INFO(config["model"].dump() << " " << parts[i + 1].what << ": estimate " << estimates[i] << ", measured "
                                  << measurements[i] << " (ratio " << estimates[i] / measurements[i] << ")");
      CHECK(estimates[i] >= measurements[i]);
      CHECK(estimates[i] <= 3.5 * measurements[i]);
    }
  }
}
