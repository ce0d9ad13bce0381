#include "config/load_config.h"

#include <fmt/format.h>

#include <stdexcept>

#include "analysis/analysis_plan.h"
#include "config/config_error.h"
#include "config/json_file.h"
#include "config/run_schema.h"
#include "task/registry.h"

namespace mechlab {

LoadedConfig load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides) {
  nlohmann::json user = read_json_file(file);
  if (!user.is_object()) throw ConfigError(file.string(), "a config must be a JSON object with sections such as model and train");
  for (const std::string& assignment : overrides) run_schema().apply_override(user, assignment);
  nlohmann::json resolved = run_schema().resolve(user);

  LoadedConfig loaded;
  loaded.task = make_task(resolved["task"]);
  loaded.task->adapt_model(resolved["model"]);
  loaded.run = run_config_from_resolved(resolved);
  try {
    loaded.run.model.validate();
  } catch (const std::invalid_argument& e) {
    // TransformerConfig names its field as "model.x: ..."; keep that as the path.
    const std::string message = e.what();
    const size_t colon = message.find(": ");
    throw ConfigError(message.substr(0, colon), colon == std::string::npos ? message : message.substr(colon + 2));
  }
  // Learned positions have n_ctx rows: a task's longer sequences would fail at the first step instead.
  const int64_t length = loaded.task->sequence_length();
  if (loaded.run.model.positions == Positions::learned && loaded.run.model.n_ctx < length)
    throw ConfigError("model.n_ctx", fmt::format("is {}, but the task's sequences have {} positions ({}); learned "
                                                 "positions need a row each: set it to 0 (the task's length) or at "
                                                 "least {}",
                                                 loaded.run.model.n_ctx, length, loaded.task->sequence_length_key(),
                                                 length));
  // Checked here, not at the first analysis step: a bad entry must not surface hours into training.
  if (loaded.run.analysis.enabled()) plan_analyses(loaded.run.analysis.spec(), "analysis", loaded.run, *loaded.task);
  return loaded;
}

std::filesystem::path run_root(const RunConfig& run) {
  return run.outputs.dir.empty() ? std::filesystem::path("results") / run.name : std::filesystem::path(run.outputs.dir);
}

}  // namespace mechlab
