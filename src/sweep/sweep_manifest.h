// A sweep directory's plan on disk (sweep_layout.h): written once by the first launch, read by every later
// command, so `status`, `resume` and `collect` need neither the spec file nor the base config again.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/sweep_plan.h"

namespace mechlab {

struct ManifestRun {
  std::string hash;
  uint64_t seed = 0;
  nlohmann::json overrides;  // {"key.path": value} of its point, base overrides included
  size_t pack = 0;
  int64_t replica = 0;
};

struct ManifestPack {
  std::vector<size_t> runs;
  double flops = 0;
  double memory_bytes = 0;
};

struct SweepManifest {
  std::filesystem::path dir;
  std::string name;
  std::vector<std::string> swept;  // the keys the axes set, in the order they first appear
  std::vector<ManifestRun> runs;
  std::vector<ManifestPack> packs;
};

// Writes the plan into spec.out: the directory appears whole (assembled beside it, then renamed) or not at all.
// When spec.out already holds this same plan, nothing is written; when it holds another sweep, or anything
// that is not a sweep, throws ConfigError("out", ...).
void write_sweep_directory(const SweepSpec& spec, const SweepPlan& plan);

// The plan in `dir`. Throws ConfigError naming the directory when it holds no sweep.
SweepManifest read_sweep_directory(const std::filesystem::path& dir);

}  // namespace mechlab
