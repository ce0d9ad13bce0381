// The Slurm launcher: an sbatch array script with one task per pack, and its submission (launchers.h).
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "config/config_error.h"
#include "io/atomic_file.h"
#include "sweep/child_process.h"
#include "sweep/launchers.h"
#include "sweep/pack_supervisor.h"
#include "sweep/sweep_layout.h"
#include "sweep/sweep_status.h"
#include "train/memory_estimate.h"

namespace mechlab {

namespace fs = std::filesystem;

std::string array_ranges(const std::vector<size_t>& packs) {
  std::vector<size_t> sorted = packs;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(sorted[i]) : fmt::format("{}-{}", sorted[i], sorted[j]);
    i = j + 1;
  }
  return out;
}

namespace {
// A word for a shell script: single-quoted unless it is plainly safe.
std::string quoted(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '/' || c == '.' || c == '_' || c == '-' || c == '=' || c == ':' || c == ',';
  });
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The task's GPU request: shards of a GPU, or whole GPUs (at least one with cuda).
std::string gres(const LaunchOptions& o) {
  if (o.slurm.gpu_shards > 0) return fmt::format("shard:{}", o.slurm.gpu_shards);
  const int gpus = o.device == "cuda" ? std::max(1, o.slurm.gpus_per_task) : o.slurm.gpus_per_task;
  return gpus > 0 ? fmt::format("gpu:{}", gpus) : "";
}
}  // namespace

std::string sbatch_script(const SweepManifest& sweep, const LaunchOptions& o) {
  const SlurmOptions& s = o.slurm;
  const fs::path dir = fs::absolute(sweep.dir).lexically_normal();
  std::vector<size_t> all(sweep.packs.size());
  for (size_t p = 0; p < all.size(); ++p) all[p] = p;
  double memory = 0;
  size_t runs = 0;
  for (const ManifestPack& p : sweep.packs) {
    memory = std::max(memory, p.memory_bytes);
    runs += p.runs.size();
  }
  std::string text = "#!/bin/bash\n";
  text += fmt::format("# mechlab sweep {}: {} runs in {} packs, one array task per pack (packs/pack_<index>.json).\n",
                      sweep.name, runs, sweep.packs.size());
  text += "# Written by `mechlab sweep launch`; `mechlab sweep resume` submits the unfinished tasks again with\n"
          "# sbatch --array=<their indices>. The largest pack's memory estimate: " + bytes_text(memory) + ".\n";
  text += fmt::format("#SBATCH --job-name={}\n", quoted("mechlab-" + sweep.name));
  text += fmt::format("#SBATCH --array={}{}\n", array_ranges(all), s.max_concurrent > 0 ? fmt::format("%{}", s.max_concurrent) : "");
  text += fmt::format("#SBATCH --output={}\n", (dir / "logs" / "pack_%4a.log").string());
  text += "#SBATCH --open-mode=append\n#SBATCH --requeue\n";
  if (s.signal_seconds > 0) text += fmt::format("#SBATCH --signal=B:USR1@{}\n", s.signal_seconds);
  text += fmt::format("#SBATCH --cpus-per-task={}\n", s.cpus_per_task);
  if (!gres(o).empty()) text += fmt::format("#SBATCH --gres={}\n", gres(o));
  if (!s.time.empty()) text += fmt::format("#SBATCH --time={}\n", s.time);
  if (!s.partition.empty()) text += fmt::format("#SBATCH --partition={}\n", s.partition);
  if (!s.account.empty()) text += fmt::format("#SBATCH --account={}\n", s.account);
  for (const std::string& line : s.sbatch_lines) text += "#SBATCH " + line + "\n";
  text += "\n# The pack checkpoints on SIGTERM (scancel, preemption) and, on the USR1 sent before the time limit,\n"
          "# also requeues its own array task; a requeued or rerun task continues from its checkpoint. It trains on\n"
          "# the GPUs Slurm gives the task (CUDA_VISIBLE_DEVICES).\n";
  // Without --threads a run uses the cores its task may run on (the CPU affinity Slurm gives it).
  text += fmt::format("exec {} sweep pack {} \"$SLURM_ARRAY_TASK_ID\" --device {}{}\n",
                      quoted(mechlab_executable().string()), quoted(dir.string()), o.device,
                      o.threads > 0 ? fmt::format(" --threads {}", o.threads) : "");
  return text;
}

void check_slurm_directory(const fs::path& dir, const LaunchOptions& options) {
  if (options.launcher != "slurm") return;
  if (fs::absolute(dir).string().find_first_of(" \t") != std::string::npos)
    throw ConfigError("out", fmt::format("'{}' holds a space, which the script's #SBATCH --output line cannot carry; "
                                         "choose a sweep directory without one", fs::absolute(dir).string()));
}

int launch_slurm(const SweepManifest& sweep, const std::vector<size_t>& packs, const LaunchOptions& options,
                 bool emit_only) {
  const fs::path script = sweep.dir / sweep_layout::kSbatch;
  write_file_atomically(script, sbatch_script(sweep, options));
  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);
  const std::string array = array_ranges(packs) + (options.slurm.max_concurrent > 0
                                                       ? fmt::format("%{}", options.slurm.max_concurrent) : "");
  const std::vector<std::string> submit{"sbatch", "--parsable", "--array=" + array, script.string()};
  if (emit_only) {
    fmt::print("wrote {}; submit it with\n  sbatch --array={} {}\n", script.string(), array, script.string());
    return 0;
  }
  // Queued before sbatch returns: a task that starts at once replaces the record with its own.
  std::vector<std::optional<std::string>> previous;
  for (size_t p : packs) {
    const fs::path record = sweep_layout::pack_record(sweep.dir, p);
    previous.push_back(fs::exists(record) ? std::optional(read_file(record)) : std::nullopt);
    write_pack_record(sweep.dir, p, {{"state", "queued"}});
  }
  auto unqueue = [&] {
    for (size_t i = 0; i < packs.size(); ++i) {
      const fs::path record = sweep_layout::pack_record(sweep.dir, packs[i]);
      if (previous[i]) write_file_atomically(record, *previous[i]);
      else fs::remove(record);
    }
  };
  CapturedRun run;
  try {
    run = run_captured(submit);
  } catch (const std::exception& e) {
    unqueue();
    fmt::print(stderr, "sweep {}: {} (is Slurm installed here? `--emit-only` writes the script alone)\n", sweep.name, e.what());
    return 1;
  }
  std::string output = run.output;
  while (!output.empty() && std::isspace(static_cast<unsigned char>(output.back()))) output.pop_back();
  if (run.exit_code != 0) {
    unqueue();
    fmt::print(stderr, "sweep {}: sbatch failed ({}): {}\n", sweep.name, exit_text(run.exit_code), output);
    return 1;
  }
  const std::string job = output.substr(0, output.find(';'));  // --parsable: "<job id>[;<cluster>]"
  fmt::print("sweep {}: submitted Slurm job {} ({} array tasks: {}); `mechlab sweep status {}` follows it\n", sweep.name,
             job, packs.size(), array, sweep.dir.string());
  return 0;
}

}  // namespace mechlab
