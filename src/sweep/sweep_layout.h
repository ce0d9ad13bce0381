// The layout of a sweep directory, named once. `mechlab sweep launch` writes the plan, the launchers and
// `sweep pack` write the packs, and `status`, `resume` and `collect` read only these files:
//   <dir>/sweep.json                   the plan: the spec, every run (hash, seed, overrides, pack, replica), the packs
//   <dir>/launch.json                  how the sweep was last launched (launcher, device, Slurm settings)
//   <dir>/packs/pack_0003.json         pack 3's config: its runs' seeds (and learning rates) as replicas
//   <dir>/packs/pack_0003/             pack 3's run directory (mechlab run --out), replica r under replica_<r>/
//   <dir>/packs/pack_0003.state.json   its last attempt: queued (with the Slurm job), started (host, pid) or ended
//                                      (exit code, last output line), with the time
//   <dir>/runs/<hash>                  a link to the run's own directory: ../packs/pack_0003/replica_<r>
//                                      (../packs/pack_0003 for a pack of one run)
//   <dir>/logs/pack_0003.log           its terminal output, appended over attempts (Slurm writes it too)
//   <dir>/sweep.sbatch                 the Slurm array script, one array task per pack
//   <dir>/results.csv results.jsonl    mechlab sweep collect
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace mechlab::sweep_layout {

inline constexpr const char* kPlan = "sweep.json";
inline constexpr const char* kLaunch = "launch.json";
inline constexpr const char* kSbatch = "sweep.sbatch";
inline constexpr const char* kResultsCsv = "results.csv";
inline constexpr const char* kResultsJsonl = "results.jsonl";

// "pack_0003"
std::string pack_name(size_t pack);
std::filesystem::path pack_config(const std::filesystem::path& dir, size_t pack);
std::filesystem::path pack_dir(const std::filesystem::path& dir, size_t pack);
std::filesystem::path pack_record(const std::filesystem::path& dir, size_t pack);
std::filesystem::path pack_log(const std::filesystem::path& dir, size_t pack);
std::filesystem::path run_link(const std::filesystem::path& dir, const std::string& hash);
// Where the run link points, relative to <dir>/runs.
std::filesystem::path run_target(size_t pack, int64_t replica, int64_t replicas);

}  // namespace mechlab::sweep_layout
