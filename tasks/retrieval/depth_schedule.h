// The depths of the training queries through training (task.query_depth): uniform over 1 .. D (the implicit
// curriculum), always D (fixed), or an explicit schedule of stages (task.depth_schedule), each from a step on.
#pragma once
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

namespace mechlab {

struct DepthStage {
  int64_t from_step = 0;
  int lowest = 1, highest = 1;  // a query's depth is uniform over lowest .. highest
};

// The stages the task options ask for: one for uniform and fixed, the checked entries of task.depth_schedule for
// schedule. Throws ConfigError naming task.depth_schedule[i].<key> for a bad entry.
std::vector<DepthStage> depth_stages(const nlohmann::json& options);

// The stage in force at `step`: the last whose from_step is at or before it.
const DepthStage& stage_at(const std::vector<DepthStage>& stages, int64_t step);

}  // namespace mechlab
