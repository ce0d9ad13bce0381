// mechlab sweep plan|launch|status|resume|collect|pack: sweeps of many runs, seeds packed as replicas, run by
// local workers or as a Slurm array (docs/sweeps.md). `plan` writes nothing; `launch` writes the sweep
// directory and trains (or submits) every pack not done; `resume` does the same from the directory alone.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.h"
#include "cli/sweep_report.h"
#include "config/config_error.h"
#include "config/json_file.h"
#include "io/atomic_file.h"
#include "io/provenance.h"
#include "sweep/launchers.h"
#include "sweep/pack_supervisor.h"
#include "sweep/sweep_collect.h"
#include "sweep/sweep_layout.h"
#include "sweep/sweep_status.h"
#include "sweep/visible_gpus.h"

namespace mechlab::cli {

namespace fs = std::filesystem;

namespace {
// The launch options given on the command line; each one set overrides the spec's or launch.json's.
struct LaunchFlags {
  std::string launcher, device, gpus, partition, account, time;
  int workers = 0, threads = -1, cpus_per_task = 0, gpus_per_task = -1, gpu_shards = -1, max_concurrent = -1,
      signal_seconds = -1;
  std::vector<std::string> sbatch_lines;
  bool emit_only = false;

  LaunchOptions over(LaunchOptions o) const {
    if (!launcher.empty()) o.launcher = launcher;
    if (!device.empty()) o.device = device;
    if (workers > 0) o.workers = workers;
    if (!gpus.empty()) {
      o.gpus = split_gpu_list(gpus);
      if (o.gpus.empty()) throw ConfigError("--gpus", "names no GPU; give them as CUDA_VISIBLE_DEVICES does, e.g. 0,1");
    }
    if (threads >= 0) o.threads = threads;
    SlurmOptions& s = o.slurm;
    if (!partition.empty()) s.partition = partition;
    if (!account.empty()) s.account = account;
    if (!time.empty()) s.time = time;
    if (cpus_per_task > 0) s.cpus_per_task = cpus_per_task;
    if (gpus_per_task >= 0) s.gpus_per_task = gpus_per_task;
    if (gpu_shards >= 0) s.gpu_shards = gpu_shards;
    if (max_concurrent >= 0) s.max_concurrent = max_concurrent;
    if (signal_seconds >= 0) s.signal_seconds = signal_seconds;
    if (!sbatch_lines.empty()) s.sbatch_lines = sbatch_lines;
    return o;
  }
};

void add_launch_flags(CLI::App* sub, LaunchFlags& f) {
  sub->add_option("--launcher", f.launcher, "local (workers on this machine) or slurm (an sbatch array)")
      ->check(CLI::IsMember({"local", "slurm"}));
  sub->add_option("--device", f.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  sub->add_option("--workers", f.workers, "local: packs trained at once (default: one per GPU with --device cuda, "
                                          "else 1; more than the GPUs puts several on each)")->check(CLI::Range(1, 4096));
  sub->add_option("--gpus", f.gpus, "local with cuda: the GPUs to spread the packs over, as CUDA_VISIBLE_DEVICES "
                                    "names them (0,1,3; default: every visible GPU)");
  sub->add_option("--threads", f.threads, "threads per pack, recorded in its runs' configs (default: the cores "
                                          "the pack may run on, a local worker's share or a Slurm task's)")->check(CLI::Range(0, 4096));
  sub->add_flag("--emit-only", f.emit_only, "slurm: write the sbatch script and print the command, submit nothing");
  sub->add_option("--partition", f.partition, "slurm: the partition");
  sub->add_option("--account", f.account, "slurm: the account");
  sub->add_option("--time", f.time, "slurm: each array task's time limit, as sbatch takes it (30, 2:00:00)");
  sub->add_option("--cpus-per-task", f.cpus_per_task, "slurm: cores per array task (default 1)")->check(CLI::Range(1, 4096));
  sub->add_option("--gpus-per-task", f.gpus_per_task, "slurm: --gres=gpu:N (default 1 with --device cuda)")->check(CLI::Range(0, 64));
  sub->add_option("--gpu-shards", f.gpu_shards, "slurm: --gres=shard:N instead of whole GPUs, so small packs share one "
                                                "(the cluster must define shards)")->check(CLI::Range(0, 4096));
  sub->add_option("--max-concurrent", f.max_concurrent, "slurm: array tasks running at once (0: no limit)")->check(CLI::Range(0, 100000));
  sub->add_option("--signal-seconds", f.signal_seconds, "slurm: the pre-timeout USR1 this long before the time "
                                                        "limit, on which a pack checkpoints and requeues (default 120)")
      ->check(CLI::Range(0, 65535));
  sub->add_option("--sbatch-line", f.sbatch_lines, "slurm: an extra #SBATCH line such as --mem=8G (repeatable)");
}

// Trains or submits `packs` with `options`, recording the launch in launch.json.
int launch(const SweepManifest& sweep, const std::vector<size_t>& packs, const LaunchOptions& options, bool emit_only) {
  if (options.launcher == "slurm" && options.workers > 1)
    throw ConfigError("--workers", "is for the local launcher; Slurm runs the array tasks (--max-concurrent limits them)");
  if (options.launcher == "local" && emit_only) throw ConfigError("--emit-only", "is for --launcher slurm");
  check_slurm_directory(sweep.dir, options);
  write_file_atomically(sweep.dir / sweep_layout::kLaunch, dump_json(launch_options_json(options)));
  if (packs.empty()) {
    fmt::print(stderr, "sweep {}: nothing to launch (`mechlab sweep status {}`)\n", sweep.name, sweep.dir.string());
    return 0;
  }
  if (options.launcher == "slurm") return launch_slurm(sweep, packs, options, emit_only);
  return launch_local(sweep, packs, options);
}

// The packs to (re)launch: all that are neither done nor running.
std::vector<size_t> unfinished(const SweepManifest& sweep) {
  std::vector<size_t> packs;
  const std::vector<PackStatus> status = sweep_status(sweep);
  for (size_t p = 0; p < status.size(); ++p)
    if (status[p].state != PackState::done && status[p].state != PackState::running) packs.push_back(p);
  return packs;
}

SweepSpec read_spec(const std::string& file, int pack, const std::string& out) {
  SweepSpec spec = read_sweep_spec(file);
  if (pack > 0) spec.pack = pack;
  if (!out.empty()) spec.out = out;
  return spec;
}
}  // namespace

Command add_sweep(CLI::App& app) {
  struct Options {
    std::string spec, dir, out;
    int pack = 0;
    std::optional<size_t> pack_index;
    bool list_runs = false;
    LaunchFlags flags;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand("sweep", "Sweeps of many runs: seeds packed as replicas, local workers or Slurm");
  sub->require_subcommand(1);

  CLI::App* plan = sub->add_subcommand("plan", "Dry run: every run, its hash, the packs and their cost; nothing written");
  plan->add_option("spec", o->spec, "sweep spec (JSON)")->required()->check(CLI::ExistingFile);
  plan->add_option("--pack", o->pack, "at most this many seeds per pack (overrides the spec's pack)")->check(CLI::Range(1, 4096));

  CLI::App* start = sub->add_subcommand("launch", "Write the sweep directory and train (local) or submit (slurm) "
                                                  "every pack that is not done");
  start->add_option("spec", o->spec, "sweep spec (JSON)")->required()->check(CLI::ExistingFile);
  start->add_option("--pack", o->pack, "at most this many seeds per pack (overrides the spec's pack)")->check(CLI::Range(1, 4096));
  start->add_option("--out", o->out, "the sweep directory (overrides the spec's out)");
  add_launch_flags(start, o->flags);

  CLI::App* status = sub->add_subcommand("status", "Each pack's state from the sweep directory: done, running, "
                                                   "failed (exit code, last line), interrupted, queued, missing");
  status->add_option("dir", o->dir, "the sweep directory")->required();
  status->add_flag("--runs", o->list_runs, "also list every run");

  CLI::App* resume = sub->add_subcommand("resume", "Relaunch only the packs that are not done (failed, interrupted, "
                                                   "missing), with the last launch's settings unless given");
  resume->add_option("dir", o->dir, "the sweep directory")->required();
  add_launch_flags(resume, o->flags);

  CLI::App* collect = sub->add_subcommand("collect", "Write results.csv and results.jsonl: one row per run, the swept "
                                                     "keys and the summary metrics as columns");
  collect->add_option("dir", o->dir, "the sweep directory")->required();

  CLI::App* pack = sub->add_subcommand("pack", "Train one pack (what each launcher's worker or array task runs)");
  pack->add_option("dir", o->dir, "the sweep directory")->required();
  pack->add_option("pack", o->pack_index, "the pack's index (default: $SLURM_ARRAY_TASK_ID)");
  pack->add_option("--device", o->flags.device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  pack->add_option("--threads", o->flags.threads, "threads for the pack")->check(CLI::Range(0, 4096));

  return [=] {
    if (plan->parsed()) {
      const SweepSpec spec = read_spec(o->spec, o->pack, "");
      print_plan(spec, plan_sweep(spec));
      return 0;
    }
    if (start->parsed()) {
      const SweepSpec spec = read_spec(o->spec, o->pack, o->out);
      const SweepPlan planned = plan_sweep(spec);
      const LaunchOptions options = o->flags.over(spec.launch);
      std::vector<double> pack_bytes;
      for (const SweepPack& p : planned.packs) pack_bytes.push_back(p.memory_bytes);
      check_host_memory(pack_bytes, options);  // before anything is written: the pack size is part of the plan
      check_slurm_directory(spec.out, options);
      write_sweep_directory(spec, planned);
      const SweepManifest sweep = read_sweep_directory(spec.out);
      return launch(sweep, unfinished(sweep), options, o->flags.emit_only);
    }
    if (resume->parsed()) {
      const SweepManifest sweep = read_sweep_directory(o->dir);
      const fs::path last = sweep.dir / sweep_layout::kLaunch;
      const LaunchOptions previous = fs::exists(last) ? launch_options_from_json(read_json_file(last), last.string()) : LaunchOptions{};
      return launch(sweep, unfinished(sweep), o->flags.over(previous), o->flags.emit_only);
    }
    if (status->parsed()) {
      print_status(read_sweep_directory(o->dir), o->list_runs);
      return 0;
    }
    if (collect->parsed()) {
      const SweepManifest sweep = read_sweep_directory(o->dir);
      const CollectCounts counts = collect_sweep(sweep);
      fmt::print("wrote {} and {}: {} rows ({} runs done), {} columns\n", (sweep.dir / sweep_layout::kResultsCsv).string(),
                 (sweep.dir / sweep_layout::kResultsJsonl).string(), counts.rows, counts.done, counts.columns);
      return 0;
    }
    size_t index = 0;
    if (o->pack_index) {
      index = *o->pack_index;
    } else {
      const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
      const std::string digits = task ? task : "";
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9)
        throw ConfigError("pack", "give the pack's index (or run inside a Slurm array task, which sets SLURM_ARRAY_TASK_ID)");
      index = std::stoul(digits);
    }
    PackOptions options;
    if (!o->flags.device.empty()) options.device = o->flags.device;
    options.threads = std::max(0, o->flags.threads);
    return run_pack(o->dir, index, options);
  };
}

}  // namespace mechlab::cli
