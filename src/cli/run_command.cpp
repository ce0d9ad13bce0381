// mechlab run CONFIG [key.path=value ...]: validate everything, then train into the run directory.
#include <fmt/format.h>
#include <tbb/global_control.h>

#include <atomic>
#include <ctime>
#include <csignal>
#include <thread>

#include "backend/backend.h"
#include "cli/commands.h"
#include "config/load_config.h"
#include "config/config_error.h"
#include "io/run_directory.h"
#include "train/trainer.h"

namespace mechlab::cli {

namespace {
std::atomic<bool> stop_requested{false};
std::atomic<int64_t> first_signal_ns{0};

int64_t monotonic_ns() {  // clock_gettime is async-signal-safe
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
}

// First SIGINT/SIGTERM: finish the step, write a checkpoint, exit. Another one a second or more later (a
// user pressing Ctrl-C again): exit at once. Sooner ones are the same request delivered twice: GNU timeout
// signals the child and then its whole process group, and cluster launchers do the same.
void on_signal(int) {
  const int64_t now = monotonic_ns();
  int64_t first = 0;
  if (first_signal_ns.compare_exchange_strong(first, now)) {
    stop_requested = true;
    return;
  }
  if (now - first >= 1000000000) std::_Exit(130);
}

struct RunOptions {
  std::string config;
  std::vector<std::string> overrides;
  std::string out;
  int threads = -1;
  std::string device;
  bool resume = false;
  bool overwrite = false;
  std::string command_line;
};

int run(const RunOptions& options) {
  std::vector<std::string> overrides = options.overrides;
  if (!options.out.empty()) overrides.push_back("outputs.dir=" + options.out);
  if (options.threads >= 0) overrides.push_back("train.threads=" + std::to_string(options.threads));
  if (!options.device.empty()) overrides.push_back("train.device=" + options.device);
  LoadedConfig loaded = load_config(options.config, overrides);
  const RunConfig& run = loaded.run;
  if (run.train.device == Device::cuda && !cuda_backend_or_null())
    throw ConfigError("train.device", "no usable CUDA GPU (or mechlab was built without nvcc); use cpu");

  RunDirectory directory = RunDirectory::inspect(run_root(run), run, options.resume, options.overwrite);
  if (directory.state() == RunState::finished) {
    fmt::print(stderr, "mechlab: {} already holds a finished run of this config; nothing to do\n",
               directory.root().string());
    return 0;
  }
  const int threads = run.train.threads > 0 ? run.train.threads : static_cast<int>(std::thread::hardware_concurrency());
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  directory.create(options.command_line, threads, run.train.device == Device::cuda ? "cuda" : "cpu");
  fmt::print(stderr, "mechlab: {} {} ({} replica{}, {} steps, {} threads) -> {}\n",
             directory.state() == RunState::resume ? "resuming" : "training", run.name, run.replicas(),
             run.replicas() == 1 ? "" : "s", run.train.steps, threads, directory.root().string());

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  Trainer trainer(run, *loaded.task, directory);
  try {
    if (trainer.train(stop_requested) == TrainingOutcome::interrupted) {
      fmt::print(stderr, "mechlab: interrupted; checkpoint written. Continue with: mechlab run {} --resume{}\n",
                 options.config, options.out.empty() ? "" : " --out " + options.out);
      return 130;
    }
  } catch (const TrainingDiverged& e) {
    directory.log(e.what());
    fmt::print(stderr, "mechlab: {}\n", e.what());
    return 3;
  }
  directory.finish();
  fmt::print(stderr, "mechlab: done; outputs in {}\n", directory.root().string());
  return 0;
}
}  // namespace

Command add_run(CLI::App& app) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Train the model a config declares and write its run directory");
  sub->add_option("config", options->config, "JSON config file")->required()->check(CLI::ExistingFile);
  sub->add_option("overrides", options->overrides, "key.path=value overrides, typed by the schema (e.g. optim.lr=3e-4)");
  sub->add_option("--out", options->out, "run directory (default: outputs.dir, else results/<name>)");
  sub->add_option("--threads", options->threads, "CPU threads (results do not depend on it)")->check(CLI::NonNegativeNumber);
  sub->add_option("--device", options->device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_flag("--resume", options->resume, "continue an interrupted run from its last checkpoint (or start it)");
  sub->add_flag("--overwrite", options->overwrite, "replace a run directory that holds another run");
  return [options] {
    options->command_line = "mechlab run " + options->config;
    for (const auto& o : options->overrides) options->command_line += " " + o;
    return run(*options);
  };
}

}  // namespace mechlab::cli
