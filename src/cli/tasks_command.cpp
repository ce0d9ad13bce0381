// mechlab tasks: every task with its keys, defaults and meaning.
#include <fmt/format.h>

#include "cli/commands.h"
#include "task/registry.h"

namespace mechlab::cli {

Command add_tasks(CLI::App& app) {
  app.add_subcommand("tasks", "List the tasks and their config keys (task.*)");
  return [] {
    for (const TaskEntry& task : task_registry()) {
      fmt::print("{}\n  {}\n", task.name, task.summary);
      for (const SchemaEntry& option : task.options.entries())
        fmt::print("  task.{:<18} default {:<8} {}\n", option.path, option.default_value.dump(), option.description);
      fmt::print("\n");
    }
    return 0;
  };
}

}  // namespace mechlab::cli
