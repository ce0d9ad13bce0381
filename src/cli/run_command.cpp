// mechlab run CONFIG [key.path=value ...]: validate everything, then train into the run directory.
#include <fmt/format.h>
#include <tbb/global_control.h>

#include <atomic>
#include <csignal>
#include <ctime>
#include <thread>

#include "backend/backend.h"
#include "cli/commands.h"
#include "config/config_error.h"
#include "config/load_config.h"
#include "config/utf8.h"
#include "io/fault_injection.h"
#include "io/run_directory.h"
#include "io/run_layout.h"
#include "io/run_lock.h"
#include "io/usable_cores.h"
#include "train/memory_estimate.h"
#include "train/trainer.h"

namespace mechlab::cli {

namespace fs = std::filesystem;

namespace {
std::atomic<bool> stop_requested{false};
std::atomic<int> stop_signal{0};
std::atomic<int64_t> first_signal_ns{0};

int64_t monotonic_ns() {  // clock_gettime is async-signal-safe
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

// 130 after SIGINT or SIGTERM, 129 after SIGHUP (128 + the signal, as shells report a hangup).
int stop_exit_code() { return stop_signal.load() == SIGHUP ? 129 : 130; }

// First SIGINT/SIGTERM/SIGHUP: finish the step, write a checkpoint, exit. Another one a second or more later
// (a user pressing Ctrl-C again): exit at once. Sooner ones are the same request delivered twice: GNU
// timeout signals the child and then its whole process group, and cluster launchers do the same.
void on_signal(int signal) {
  const int64_t now = monotonic_ns();
  int64_t first = 0;
  if (first_signal_ns.compare_exchange_strong(first, now)) {
    stop_signal = signal;
    stop_requested = true;
    return;
  }
  if (now - first >= 1000000000) std::_Exit(stop_exit_code());
}

const char* signal_name(int signal) {
  switch (signal) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "a signal";
  }
}

struct RunOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
  bool out_given = false;
  int threads = -1;
  std::string device;
  bool resume = false;
  bool overwrite = false;
};

// The command that continues this run: the same words, with --resume (and without --overwrite).
std::string resume_command() {
  std::vector<std::string> words(command_argv().begin() + 1, command_argv().end());
  std::erase_if(words, [](const std::string& w) { return w == "--resume" || w == "--overwrite"; });
  words.push_back("--resume");
  return program_name() + " " + shell_line(words);
}

void check_options(const RunOptions& options) {
  if (options.resume && options.overwrite)
    throw ConfigError("--resume", "and --overwrite contradict each other (--resume continues the run in the directory, "
                                  "--overwrite replaces it); pass one of them");
  if (options.out_given && options.out.empty())
    throw ConfigError("--out", "is empty; give the run directory, or leave --out out for results/<name>");
  if (const std::string problem = utf8_problem(options.out); !problem.empty())
    throw ConfigError("--out", "must be a UTF-8 path (it is stored in config.json), but " + problem);
  if (const std::string problem = utf8_problem(options.config); !problem.empty())
    throw ConfigError("config", "must be a UTF-8 path (it is stored in provenance.json), but " + problem);
}

// Removes a run directory that acquiring the lock created, when the run is refused right after.
void remove_created(const RunLock& lock, const fs::path& root) {
  if (!lock.created_root()) return;
  std::error_code error;
  fs::remove(root / run_layout::kLock, error);
  fs::remove(root, error);
}

int run(const RunOptions& options) {
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal, on_signal);
  check_options(options);
  std::vector<std::string> overrides = options.overrides;
  if (options.out_given) overrides.push_back("outputs.dir=" + options.out);
  if (options.threads >= 0) overrides.push_back("train.threads=" + std::to_string(options.threads));
  if (!options.device.empty()) overrides.push_back("train.device=" + options.device);
  LoadedConfig loaded = load_config(options.config, overrides);
  const RunConfig& run = loaded.run;
  if (run.train.device == Device::cuda && !cuda_backend_or_null())
    throw ConfigError("train.device", "no usable CUDA GPU (or mechlab was built without nvcc); use cpu");
  check_memory(run, *loaded.task);

  const fs::path root = run_root(run);
  RunDirectory directory = RunDirectory::inspect(root, run, options.resume, options.overwrite);
  auto nothing_to_do = [&] {
    fmt::print(stderr, "mechlab: {} already holds a finished run of this config; nothing to do\n", root.string());
    return 0;
  };
  if (directory.state() == RunState::finished) return nothing_to_do();
  if (stop_requested) return stop_exit_code();  // nothing written yet

  const Invocation invocation{shell_line(command_argv()), command_argv(),
                              run.train.threads > 0 ? run.train.threads : static_cast<int>(usable_cores().size()),
                              name_of(run.train.device)};
  RunLock lock = RunLock::acquire(root, invocation.command_line);
  try {
    // Again under the lock: another process may have written the directory since.
    directory = RunDirectory::inspect(root, run, options.resume, options.overwrite);
    if (directory.state() == RunState::finished) return nothing_to_do();
    directory.find_resume_point();
  } catch (...) {
    remove_created(lock, root);
    throw;
  }
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, invocation.threads);

  fault_point("startup");
  if (!directory.prepare(invocation, loaded.task->vocabulary(), stop_requested)) {
    directory.log_if_possible(std::string("interrupted by ") + signal_name(stop_signal) + " during start-up");
    fmt::print(stderr, "mechlab: interrupted during start-up. Continue with: {}\n", resume_command());
    return stop_exit_code();
  }
  for (const std::string& note : directory.resume_point().notes) fmt::print(stderr, "mechlab: {}\n", note);
  fmt::print(stderr, "mechlab: {} {} ({} replica{}, {} steps, {} threads) -> {}\n",
             directory.state() == RunState::resume ? fmt::format("resuming from step {}", directory.resume_point().step)
                                                   : std::string("training"),
             run.name, run.replicas(), run.replicas() == 1 ? "" : "s", run.train.steps, invocation.threads,
             root.string());

  Trainer trainer(run, *loaded.task, directory);
  try {
    if (trainer.train(stop_requested) == TrainingOutcome::interrupted) {
      fmt::print(stderr, "mechlab: interrupted by {}; checkpoint written. Continue with: {}\n", signal_name(stop_signal),
                 resume_command());
      return stop_exit_code();
    }
  } catch (const TrainingDiverged& e) {
    directory.log_if_possible(e.what());
    fmt::print(stderr, "mechlab: {}\n", e.what());
    return 3;
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    // A fault of the machine (a full disk, a lost mount): the checkpoints written so far resume.
    directory.log_if_possible(std::string("failed: ") + e.what());
    fmt::print(stderr, "mechlab: error: {}. Once that is fixed, continue with: {}\n", e.what(), resume_command());
    return 1;
  }
  directory.finish();
  if (stop_requested) {
    fmt::print(stderr, "mechlab: {} arrived as the run finished; its outputs are complete in {}\n",
               signal_name(stop_signal), root.string());
    return stop_exit_code();
  }
  fmt::print(stderr, "mechlab: done; outputs in {}\n", root.string());
  return 0;
}
}  // namespace

Command add_run(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Train the model a config declares and write its run directory");
  sub->add_option("config", options->config, "JSON config file")->required()->check(CLI::ExistingFile);
  sub->add_option("overrides", options->overrides, "key.path=value overrides, typed by the schema (e.g. optim.lr=3e-4)");
  CLI::Option* out = sub->add_option("--out", options->out, "run directory (default: outputs.dir, else results/<name>)");
  sub->add_option("--threads", options->threads, "CPU threads (results do not depend on it)")->check(CLI::NonNegativeNumber);
  sub->add_option("--device", options->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_flag("--resume", options->resume,
                "continue an interrupted run from its last checkpoint (or start it); with a larger train.steps, extend "
                "a run");
  sub->add_flag("--overwrite", options->overwrite, "replace a run directory that holds another mechlab run");
  return [options, out] {
    options->out_given = out->count() > 0;
    return run(*options);
  };
}

}  // namespace mechlab::cli
