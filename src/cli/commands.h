// The subcommands of the mechlab binary, one file each. Each registers its options on the CLI11 app
// and returns the process exit code when run: 0 success, 1 failure at run time, 2 a user mistake in
// the config, arguments or input files (nothing written), 3 training diverged, 130 interrupted (129 by
// SIGHUP).
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace mechlab::cli {

using Command = std::function<int()>;

Command add_run(CLI::App& app);
Command add_validate(CLI::App& app);
Command add_tasks(CLI::App& app);
Command add_forward(CLI::App& app);
Command add_analyze(CLI::App& app);
Command add_sweep(CLI::App& app);

// The command line as given (main records it), and how to name the program in a command the user is told
// to run: $MECHLAB_INVOKED_AS (scripts/mechlab sets it), argv[0] when it holds a path, else "mechlab".
void set_command_line(int argc, char** argv);
const std::vector<std::string>& command_argv();
std::string program_name();
// `words` joined into one line a POSIX shell splits back into the same words.
std::string shell_line(const std::vector<std::string>& words);

}  // namespace mechlab::cli
