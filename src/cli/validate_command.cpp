// mechlab validate CONFIG [overrides]: print the resolved config, or the first error (exit code 2).
// mechlab validate --reference: print the config reference (docs/config.md) generated from the schema.
#include <fmt/format.h>

#include "cli/commands.h"
#include "config/load_config.h"
#include "config/config_error.h"
#include "config/run_schema.h"
#include "nn/parameter_specs.h"
#include "train/memory_estimate.h"

namespace mechlab::cli {

std::string config_reference() {
  return "# Config reference\n\n"
         "Generated from the schema by `mechlab validate --reference > docs/config.md`; a test keeps the two\n"
         "equal. A config is a JSON object with these sections; every key is optional unless its default says\n"
         "\"required\". Any key can be overridden on the command line as `key.path=value`, e.g.\n"
         "`mechlab run configs/bigram_backcopy/quick.json optim.lr=3e-4 train.steps=500`.\n\n" +
         run_schema().markdown();
}

Command add_validate(CLI::App& app) {
  auto config = std::make_shared<std::string>();
  auto overrides = std::make_shared<std::vector<std::string>>();
  auto reference = std::make_shared<bool>(false);
  CLI::App* sub = app.add_subcommand("validate", "Check a config and print it resolved (every default filled in)");
  sub->add_option("config", *config, "JSON config file")->check(CLI::ExistingFile);
  sub->add_option("overrides", *overrides, "key.path=value overrides");
  sub->add_flag("--reference", *reference, "print the reference of every config key (Markdown) instead");
  return [config, overrides, reference] {
    if (*reference) {
      fmt::print("{}", config_reference());
      return 0;
    }
    if (config->empty()) throw ConfigError("config", "give a config file to validate (or --reference)");
    LoadedConfig loaded = load_config(*config, *overrides);
    check_memory(loaded.run, *loaded.task);
    double bytes = 0;
    for (const MemoryPart& part : estimate_memory(loaded.run, *loaded.task)) bytes += part.bytes;
    fmt::print("{}\n", loaded.run.resolved.dump(2));
    fmt::print(stderr,
               "mechlab: config OK: task {}, {} replica(s), {} parameters per replica, about {} of memory, run "
               "directory {}\n",
               loaded.run.task["name"].get<std::string>(), loaded.run.replicas(), parameter_count(loaded.run.model),
               bytes_text(bytes), run_root(loaded.run).string());
    return 0;
  };
}

}  // namespace mechlab::cli
