// The resolved config of one run, as typed structs. Each config key is bound to one field here or in the
// structs these hold (config/run_schema.cpp); the initializers are the defaults the schema reports.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "config/enum_names.h"
#include "nn/transformer_config.h"
#include "optim/optimizer.h"
#include "random/replica_key.h"
#include "train/step_schedule.h"

namespace mechlab {

enum class DumpSchedule { log, every, none };
constexpr auto enum_names(DumpSchedule) {
  using E = DumpSchedule;
  return std::array{EnumName<E>{"log", E::log}, EnumName<E>{"every", E::every}, EnumName<E>{"none", E::none}};
}

struct TrainConfig {
  int64_t steps = 1000;
  int64_t batch_size = 64;
  Device device = Device::cpu;
  bool cuda_graph = true;
  MatmulPrecision matmul_precision = MatmulPrecision::fp32;
  bool fused_attention = false;  // CUDA: ops::attention's fused kernels instead of products and a pattern kernel
  int threads = 0;  // 0: every core
  StepSchedule evaluations{100};
  int64_t eval_batch_size = 256;
  int64_t log_every = 50;
  StepSchedule checkpoints{500, 100};
};

struct OutputsConfig {
  std::string dir;  // "" : results/<name>
  DumpSchedule dumps = DumpSchedule::log;
  int64_t dump_every = 500;
  int64_t dump_points = 16;
  int64_t probe_batch_size = 8;
};

// Analyses (docs/analysis.md) run on the live model at chosen steps of training, written to
// <root>/analysis/step_<N>/<name>/. Off while `analyses` is empty.
enum class AnalysisBatchKind { contrast, eval };
constexpr auto enum_names(AnalysisBatchKind) {
  using E = AnalysisBatchKind;
  return std::array{EnumName<E>{"contrast", E::contrast}, EnumName<E>{"eval", E::eval}};
}
struct AnalysisConfig {
  nlohmann::json analyses = nlohmann::json::array();  // the entries, checked against model and task at load
  std::vector<int64_t> steps;                         // these steps (0 = before training) ...
  int64_t every = 0;                                  // ... and every N steps (0: none)
  AnalysisBatchKind batch = AnalysisBatchKind::contrast;
  int64_t batch_size = 64;
  int64_t chunk = 16;

  bool enabled() const { return !analyses.empty(); }
  bool due(int64_t step) const;
  // The spec `mechlab analyze` would read for the same analyses.
  nlohmann::json spec() const;
};

struct RunConfig {
  std::string name;
  uint64_t seed = 0;
  std::vector<uint64_t> seeds;  // one replica per seed; {seed} when the config gives none
  nlohmann::json task;          // the resolved "task" section
  TransformerConfig model;
  OptimizerConfig optim;
  TrainConfig train;
  OutputsConfig outputs;
  AnalysisConfig analysis;
  nlohmann::json resolved;  // the whole resolved config

  std::vector<ReplicaKey> replica_keys() const { return replicas_for_seeds(seeds); }
  int64_t replicas() const { return static_cast<int64_t>(seeds.size()); }
  // The config a single run of replica r would have: one seed, one learning rate.
  nlohmann::json replica_config(int64_t r) const;
};

// From a config resolved by run_schema(); throws ConfigError for cross-field problems.
RunConfig run_config_from_resolved(const nlohmann::json& resolved);

}  // namespace mechlab
