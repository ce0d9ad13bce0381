#include "tasks/retrieval/depth_schedule.h"

#include <fmt/format.h>

#include <limits>
#include <optional>

#include "config/config_error.h"

namespace mechlab {

namespace {
const char* const kHow =
    "give a list of {\"from_step\": S, \"max_depth\": k, \"min_depth\": j (default 1)}, the first from step 0";

// An entry's integer key within [low, high] (`bounds` says where they come from), or `fallback` when the key is
// absent and there is one.
int64_t integer_at(const nlohmann::json& entry, const std::string& path, const char* key, int64_t low, int64_t high,
                   const std::string& bounds, std::optional<int64_t> fallback = std::nullopt) {
  if (!entry.contains(key)) {
    if (fallback) return *fallback;
    throw ConfigError(path, fmt::format("needs \"{}\"; {}", key, kHow));
  }
  const nlohmann::json& value = entry[key];
  const std::string at = path + "." + key;
  if (!value.is_number_integer()) throw ConfigError(at, "expects an integer, got " + value.dump());
  const int64_t n = value.get<int64_t>();
  if (n < low || n > high)
    throw ConfigError(at, high == std::numeric_limits<int64_t>::max()
                              ? fmt::format("must be >= {} ({}), got {}", low, bounds, n)
                              : fmt::format("must be within {} .. {} ({}), got {}", low, high, bounds, n));
  return n;
}
}  // namespace

std::vector<DepthStage> depth_stages(const nlohmann::json& options) {
  const int D = options["steps"].get<int>();
  const nlohmann::json& schedule = options["depth_schedule"];
  const std::string kind = options["query_depth"].get<std::string>();
  if (kind != "schedule") {
    if (!schedule.empty())
      throw ConfigError("task.depth_schedule", "is read only with task.query_depth \"schedule\" (it is \"" + kind +
                                                   "\"); set that, or remove the schedule");
    return {kind == "fixed" ? DepthStage{0, D, D} : DepthStage{0, 1, D}};
  }
  if (schedule.empty())
    throw ConfigError("task.depth_schedule", std::string("is empty, but task.query_depth is \"schedule\"; ") + kHow);
  std::vector<DepthStage> stages;
  for (size_t i = 0; i < schedule.size(); ++i) {
    const std::string path = fmt::format("task.depth_schedule[{}]", i);
    for (const auto& [key, value] : schedule[i].items())
      if (key != "from_step" && key != "max_depth" && key != "min_depth")
        throw ConfigError(path + "." + key, "is not a stage's key; a stage has from_step, max_depth and min_depth");
    const int64_t from = integer_at(schedule[i], path, "from_step", 0, std::numeric_limits<int64_t>::max(), "a step");
    if (stages.empty() && from != 0)
      throw ConfigError(path + ".from_step", fmt::format("must be 0 (the first stage starts the run), got {}", from));
    if (!stages.empty() && from <= stages.back().from_step)
      throw ConfigError(path + ".from_step", fmt::format("must come after the stage before it (from step {}), got {}",
                                                         stages.back().from_step, from));
    const int highest = static_cast<int>(integer_at(schedule[i], path, "max_depth", 1, D, "task.steps is the deepest"));
    const int lowest =
        static_cast<int>(integer_at(schedule[i], path, "min_depth", 1, highest, "up to the stage's max_depth", 1));
    stages.push_back({from, lowest, highest});
  }
  return stages;
}

const DepthStage& stage_at(const std::vector<DepthStage>& stages, int64_t step) {
  size_t i = 0;
  while (i + 1 < stages.size() && stages[i + 1].from_step <= step) ++i;
  return stages[i];
}

}  // namespace mechlab
