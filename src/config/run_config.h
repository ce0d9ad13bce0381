// The resolved config of one run, as typed structs. The JSON schema (run_schema.h) validates and fills
// defaults; this turns the resolved JSON into what the trainer uses.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/backend.h"
#include "nn/transformer_config.h"
#include "optim/optimizer.h"
#include "random/replica_key.h"
#include "train/step_schedule.h"

namespace mechlab {

enum class DumpSchedule { log, every, none };

struct TrainConfig {
  int64_t steps = 1000;
  int64_t batch_size = 64;
  Device device = Device::cpu;
  bool cuda_graph = true;
  MatmulPrecision matmul_precision = MatmulPrecision::fp32;
  int threads = 0;  // 0: every core
  StepSchedule evaluations{100};
  int64_t eval_batch_size = 256;
  int64_t log_every = 50;
  StepSchedule checkpoints{500};
};

struct OutputsConfig {
  std::string dir;  // "" : results/<name>
  DumpSchedule dumps = DumpSchedule::log;
  int64_t dump_every = 500;
  int64_t dump_points = 16;
  int64_t probe_batch_size = 8;
};

struct RunConfig {
  std::string name;
  std::vector<uint64_t> seeds;  // one replica per seed
  nlohmann::json task;          // the resolved "task" section
  TransformerConfig model;
  OptimizerConfig optim;
  TrainConfig train;
  OutputsConfig outputs;
  nlohmann::json resolved;  // the whole resolved config

  std::vector<ReplicaKey> replica_keys() const { return replicas_for_seeds(seeds); }
  int64_t replicas() const { return static_cast<int64_t>(seeds.size()); }
  // The config a single run of replica r would have: one seed, one learning rate.
  nlohmann::json replica_config(int64_t r) const;
};

// From a config resolved by run_schema(); throws ConfigError for cross-field problems.
RunConfig run_config_from_resolved(const nlohmann::json& resolved);

}  // namespace mechlab
