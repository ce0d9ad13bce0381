// Launching a sweep's packs: local workers, or one Slurm array task per pack. Both run `mechlab sweep pack
// DIR P` (pack_supervisor.h), so a pack trains, checkpoints and records its end the same way everywhere.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "sweep/launch_options.h"
#include "sweep/sweep_manifest.h"

namespace mechlab {

// For the local launcher on the CPU: the packs that would train at once (the largest options.workers of them,
// by the plan's estimates) must fit in the host's available memory, else a ConfigError naming `pack` (or
// `--workers`) says what to lower. Called before the sweep directory is written.
void check_host_memory(const std::vector<double>& pack_bytes, const LaunchOptions& options);

// Trains `packs` with options.workers processes at once, each pack's output appended to its log; prints a line
// as each ends. SIGINT or SIGTERM stops every pack (each checkpoints). Returns 1 if a pack failed, else 130 if
// one was interrupted, else 0.
int launch_local(const SweepManifest& sweep, const std::vector<size_t>& packs, const LaunchOptions& options);

// The sbatch script of the whole sweep: one array task per pack (sweep_layout::kSbatch).
std::string sbatch_script(const SweepManifest& sweep, const LaunchOptions& options);
// "0-3,7,9-11": Slurm's --array syntax for `packs` (sorted; also how `plan` shows a pack's seeds).
std::string array_ranges(const std::vector<size_t>& packs);

// For the Slurm launcher: the sweep directory must be a path #SBATCH lines can carry (no spaces), else a
// ConfigError naming `out`. Called before the sweep directory is written.
void check_slurm_directory(const std::filesystem::path& dir, const LaunchOptions& options);

// Writes <dir>/sweep.sbatch and, unless emit_only, submits the array tasks of `packs` with sbatch (records
// them queued) and prints the job id. Returns 0, or 1 when sbatch fails (its message printed).
int launch_slurm(const SweepManifest& sweep, const std::vector<size_t>& packs, const LaunchOptions& options,
                 bool emit_only);

}  // namespace mechlab
