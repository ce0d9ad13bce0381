// Planning a sweep: resolve each point's config once with all its seeds, split it into one config per seed
// (hashed), and pack the runs that differ only in seed and learning rate as replicas (see sweep_plan.h).
#include "sweep/sweep_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

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

// Runs with the same key train together: their configs without seed and learning rate.
std::string packing_key(const nlohmann::json& single) {
  nlohmann::json c = single;
  c["seed"] = 0;
  c["optim"]["lr"] = 0;
  return config_hash(c);
}

// The config that trains `runs` as replicas: the first run's, with every replica's seed and learning rate.
nlohmann::json pack_config(const SweepPlan& plan, const std::vector<size_t>& runs) {
  nlohmann::json config = plan.runs[runs.front()].config;
  nlohmann::json seeds = nlohmann::json::array(), rates = nlohmann::json::array();
  for (size_t i : runs) {
    seeds.push_back(plan.runs[i].seed);
    rates.push_back(plan.runs[i].config["optim"]["lr"]);
  }
  config["seeds"] = seeds;
  const bool one_rate = std::all_of(rates.begin(), rates.end(), [&](const nlohmann::json& r) { return r == rates[0]; });
  config["optim"]["lr"] = one_rate ? rates[0] : rates;
  return config;
}
}  // namespace

SweepPlan plan_sweep(const SweepSpec& spec) {
  if (!std::filesystem::exists(spec.base_config))
    throw ConfigError("base.config", fmt::format("'{}' does not exist (a path from the current directory)",
                                                 spec.base_config.string()));
  SweepPlan plan;
  std::vector<LoadedConfig> points;       // kept for the tasks the memory estimates need
  std::vector<double> flops_per_run;
  std::vector<size_t> point_of_run;
  std::vector<std::string> keys;          // packing keys in order of first appearance
  std::map<std::string, std::vector<size_t>> runs_of_key;
  for (const SweepPoint& point : spec.points) {
    LoadedConfig loaded = load_point(spec, point, spec.seeds);
    const RunConfig& run = loaded.run;
    const double tokens = static_cast<double>(run.train.batch_size) * static_cast<double>(loaded.task->sequence_length());
    const double per_seed = 6.0 * static_cast<double>(parameter_count(run.model)) * tokens * static_cast<double>(run.train.steps);
    for (int64_t r = 0; r < run.replicas(); ++r) {
      nlohmann::json single = run.replica_config(r);
      const std::string key = packing_key(single);
      if (!runs_of_key.contains(key)) keys.push_back(key);
      runs_of_key[key].push_back(plan.runs.size());
      plan.runs.push_back({point, run.seeds[r], single, config_hash(single)});
      flops_per_run.push_back(per_seed);
      point_of_run.push_back(points.size());
    }
    points.push_back(std::move(loaded));
  }
  for (const std::string& key : keys) {
    const std::vector<size_t>& runs = runs_of_key[key];
    for (size_t begin = 0; begin < runs.size(); begin += static_cast<size_t>(spec.pack)) {
      SweepPack pack;
      pack.runs.assign(runs.begin() + static_cast<std::ptrdiff_t>(begin),
                       runs.begin() + static_cast<std::ptrdiff_t>(std::min(runs.size(), begin + static_cast<size_t>(spec.pack))));
      pack.config = pack_config(plan, pack.runs);
      for (size_t r = 0; r < pack.runs.size(); ++r) {
        plan.runs[pack.runs[r]].pack = plan.packs.size();
        plan.runs[pack.runs[r]].replica = static_cast<int64_t>(r);
        pack.flops += flops_per_run[pack.runs[r]];
      }
      const RunConfig packed = run_config_from_resolved(pack.config);
      for (const MemoryPart& part : estimate_memory(packed, *points[point_of_run[pack.runs[0]]].task))
        pack.memory_bytes += part.bytes;
      plan.packs.push_back(std::move(pack));
    }
  }
  return plan;
}

}  // namespace mechlab
