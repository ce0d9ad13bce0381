// The subcommands of the mechlab binary, one file each. Each registers its options on the CLI11 app
// and returns the process exit code when run: 0 success, 1 failure at run time, 2 a user mistake in
// the config or arguments (nothing written), 3 training diverged, 130 interrupted.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>

namespace mechlab::cli {

using Command = std::function<int()>;

Command add_run(CLI::App& app);
Command add_validate(CLI::App& app);
Command add_tasks(CLI::App& app);
Command add_forward(CLI::App& app);

}  // namespace mechlab::cli
