// mechlab: experiment runner for synthetic mechanism studies of small transformers.
#include <fmt/format.h>

#include <map>

#include "cli/commands.h"
#include "config/config_error.h"

int main(int argc, char** argv) {
  mechlab::cli::set_command_line(argc, argv);
  CLI::App app{"mechlab: train small transformers on synthetic tasks and record how they work"};
  app.require_subcommand(1);
  app.set_version_flag("--version", MECHLAB_VERSION);
  std::map<CLI::App*, mechlab::cli::Command> commands;
  for (auto add : {mechlab::cli::add_run, mechlab::cli::add_validate, mechlab::cli::add_tasks, mechlab::cli::add_forward, mechlab::cli::add_analyze,
                   mechlab::cli::add_sweep}) {
    const size_t before = app.get_subcommands({}).size();
    mechlab::cli::Command command = add(app);
    commands[app.get_subcommands({})[before]] = std::move(command);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "mechlab: {} (see mechlab --help)\n", e.what());
    return 2;
  }
  try {
    for (auto& [subcommand, command] : commands)
      if (subcommand->parsed()) return command();
  } catch (const mechlab::ConfigError& e) {
    fmt::print(stderr, "mechlab: config error: {}\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "mechlab: error: out of memory; the check before the run underestimated it (please report the "
                       "config); lower train.batch_size or train.eval_batch_size\n");
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "mechlab: error: {}\n", e.what());
    return 1;
  }
  return 2;
}
