// From a config file and key.path=value overrides to a validated RunConfig and its task. Every user
// mistake surfaces as one ConfigError naming the JSON path.
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "config/run_config.h"
#include "task/task.h"

namespace mechlab {

struct LoadedConfig {
  RunConfig run;
  std::unique_ptr<Task> task;
};

LoadedConfig load_config(const std::filesystem::path& file, const std::vector<std::string>& overrides);

// The run directory a config asks for: outputs.dir, or results/<name>.
std::filesystem::path run_root(const RunConfig& run);

}  // namespace mechlab
