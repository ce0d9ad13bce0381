// From a sweep spec to its runs and packs: every run's resolved config and content hash, and the packs of runs
// whose configs differ only in their seed and learning rate (trained as replicas of one process, at most
// spec.pack runs each; the engine takes one learning rate per replica).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "sweep/sweep_spec.h"

namespace mechlab {

struct SweepRun {
  SweepPoint overrides;      // the point's overrides (base ones included)
  uint64_t seed = 0;
  nlohmann::json config;     // the resolved config of this run alone (one seed)
  std::string hash;          // 16 hex digits of the config without outputs.dir and train.threads
  size_t pack = 0;           // the pack that trains it, as replica `replica`
  int64_t replica = 0;
};

struct SweepPack {
  std::vector<size_t> runs;  // indices into SweepPlan::runs, in replica order
  nlohmann::json config;     // the resolved config that trains them together: seeds (and learning rates) per replica
  double flops = 0;          // training estimate: 6 x parameters x tokens per step x steps, all replicas
  double memory_bytes = 0;   // the run's memory estimate with these replicas
};

struct SweepPlan {
  std::vector<SweepRun> runs;
  std::vector<SweepPack> packs;
};

// The content hash of a resolved config: FNV-1a (64 bits) of its JSON text, keys sorted, without the output
// directory and the thread count (which never change results).
std::string config_hash(const nlohmann::json& resolved);

SweepPlan plan_sweep(const SweepSpec& spec);

}  // namespace mechlab
