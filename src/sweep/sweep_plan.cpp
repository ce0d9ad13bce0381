// Planning a sweep: resolve each point's config once with all its seeds, split it into one config per seed
// (hashed), and pack the seeds of a point as replicas (see sweep_plan.h).
#include "sweep/sweep_plan.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/config_error.h"
#include "config/load_config.h"
#include "nn/parameter_specs.h"
#include "train/memory_estimate.h"

namespace mechlab {

std::string config_hash(const nlohmann::json& resolved) {
  nlohmann::json c = resolved;
  if (c.contains("outputs")) c["outputs"].erase("dir");
  if (c.contains("train")) c["train"].erase("threads");
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char byte : c.dump()) h = (h ^ byte) * 0x100000001b3ull;
  return fmt::format("{:016x}", h);
}

namespace {
// The point's config with `seeds`, its errors named by the spec path of the override at fault.
LoadedConfig load_point(const SweepSpec& spec, const SweepPoint& point, const std::vector<uint64_t>& seeds) {
  std::vector<std::string> overrides;
  for (const SweepAssignment& a : point) overrides.push_back(override_text(a));
  if (!seeds.empty()) overrides.push_back("seeds=" + nlohmann::json(seeds).dump());
  try {
    return load_config(spec.base_config, overrides);
  } catch (const ConfigError& e) {
    const std::string what = e.what(), message = what.substr(std::min(what.size(), e.path().size() + 2));
    for (const SweepAssignment& a : point)
      if (e.path() == a.key || e.path().rfind(a.key + ".", 0) == 0 || e.path() == override_text(a))
        throw ConfigError(a.from, e.path() == a.key ? message : what);
    if (e.path() == spec.base_config.string()) throw ConfigError("base.config", e.what());
    throw ConfigError("base.config", fmt::format("{} (the config {} with this point's overrides)", e.what(),
                                                 spec.base_config.string()));
  }
}
}  // namespace

SweepPlan plan_sweep(const SweepSpec& spec) {
  if (!std::filesystem::exists(spec.base_config))
    throw ConfigError("base.config", fmt::format("'{}' does not exist (a path from the current directory)",
                                                 spec.base_config.string()));
  SweepPlan plan;
  for (const SweepPoint& point : spec.points) {
    LoadedConfig loaded = load_point(spec, point, spec.seeds);
    const RunConfig& run = loaded.run;
    const size_t first = plan.runs.size();
    for (int64_t r = 0; r < run.replicas(); ++r) {
      nlohmann::json single = run.replica_config(r);
      plan.runs.push_back({point, run.seeds[r], single, config_hash(single)});
    }
    const double tokens = static_cast<double>(run.train.batch_size) * static_cast<double>(loaded.task->sequence_length());
    const double per_seed = 6.0 * static_cast<double>(parameter_count(run.model)) * tokens * static_cast<double>(run.train.steps);
    for (size_t begin = first; begin < plan.runs.size(); begin += static_cast<size_t>(spec.pack)) {
      SweepPack pack;
      std::vector<uint64_t> seeds;
      for (size_t i = begin; i < std::min(plan.runs.size(), begin + static_cast<size_t>(spec.pack)); ++i) {
        pack.runs.push_back(i);
        seeds.push_back(plan.runs[i].seed);
      }
      pack.flops = per_seed * static_cast<double>(seeds.size());
      RunConfig packed = run;  // the memory estimate depends on the seeds only through their number
      packed.seeds = seeds;
      for (const MemoryPart& part : estimate_memory(packed, *loaded.task)) pack.memory_bytes += part.bytes;
      plan.packs.push_back(std::move(pack));
    }
  }
  return plan;
}

}  // namespace mechlab
