// A sweep spec (JSON): a base config with overrides, axes combined by `product` and `zip` blocks (nested as
// deep as needed), and seeds. Reading it expands the axes into points, each a list of key = value overrides;
// every mistake is a ConfigError naming the spec's JSON path.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sweep/launch_options.h"

namespace mechlab {

// One override of a sweep point: the config key, its value, and the spec path that set it (for errors).
struct SweepAssignment {
  std::string key;
  nlohmann::json value;
  std::string from;
};
using SweepPoint = std::vector<SweepAssignment>;

struct SweepSpec {
  nlohmann::json source;           // the spec as written
  std::string name;
  std::filesystem::path base_config;
  SweepPoint base_overrides;       // an axis setting the same key replaces it
  // In the order the axes enumerate them, the first axis slowest; the keys of one JSON object count in
  // alphabetical order (give a list of objects for another order).
  std::vector<SweepPoint> points;
  std::vector<uint64_t> seeds;     // empty: the base config's own seeds
  int64_t pack = 64;               // most seeds trained as replicas of one process
  std::filesystem::path out;       // the sweep directory
  LaunchOptions launch;            // the spec's `launch` block: the defaults of `mechlab sweep launch`
};

SweepSpec read_sweep_spec(const std::filesystem::path& file);
SweepSpec sweep_spec_from_json(const nlohmann::json& spec);

// `key=value` as `mechlab run` takes it (strings bare, everything else as JSON).
std::string override_text(const SweepAssignment& a);

}  // namespace mechlab
