// mechlab validate CONFIG [overrides]: print the resolved config, or the first error (exit code 2).
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/load_config.h"
#include "nn/transformer.h"

namespace mechlab::cli {

Command add_validate(CLI::App& app) {
  auto config = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  CLI::App* sub = app.add_subcommand("validate", "Check a config and print it resolved (every default filled in)");
  sub->add_option("config", *config, "JSON config file")->required()->check(CLI::ExistingFile);
  sub->add_option("overrides", *overrides, "key.path=value overrides");
  return [config, overrides] {
    LoadedConfig loaded = load_config(*config, *overrides);
    Transformer model(loaded.run.model, {{0, 0}});
    fmt::print("{}\n", loaded.run.resolved.dump(2));
    fmt::print(stderr, "mechlab: config OK: task {}, {} replica(s), {} parameters per replica, run directory {}\n",
               loaded.run.task["name"].get<std::string>(), loaded.run.replicas(), model.parameter_count(),
               run_root(loaded.run).string());
    return 0;
  };
}

}  // namespace mechlab::cli
