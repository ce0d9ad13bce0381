// The layout of a run directory, named once. The trainer writes these paths, resuming and --overwrite
// read them, and scripts/figures follows the same names:
//   <root>/provenance.json log.txt vocab.json .mechlab.lock   the run as a whole
//   <replica>/config.json metrics.jsonl summary.json          per replica (the root itself for one replica,
//   <replica>/checkpoints/step_00001234.safetensors            else <root>/replica_<r>)
//   <replica>/dumps/probe_tokens.npy dumps/step_00001234/...
//   <root>/analysis/<name>/...                                 mechlab analyze (all replicas in one array)
//   <root>/analysis/step_00001234/<name>/...                   the run config's analysis section
// A run is finished when every replica has its summary.json.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mechlab::run_layout {

inline constexpr const char* kConfig = "config.json";
inline constexpr const char* kProvenance = "provenance.json";
inline constexpr const char* kLog = "log.txt";
inline constexpr const char* kVocabulary = "vocab.json";
inline constexpr const char* kLock = ".mechlab.lock";
inline constexpr const char* kMetrics = "metrics.jsonl";
inline constexpr const char* kSummary = "summary.json";
inline constexpr const char* kCheckpoints = "checkpoints";
inline constexpr const char* kDumps = "dumps";
inline constexpr const char* kAnalysis = "analysis";
inline constexpr const char* kProbeTokens = "probe_tokens.npy";
// A checkpoint that failed its checks on resume is kept under this suffix for inspection.
inline constexpr const char* kCorruptSuffix = ".corrupt";

// Where replica r of `replicas` writes: the root itself for one replica, else root/replica_<r>.
std::filesystem::path replica_dir(const std::filesystem::path& root, int64_t r, int64_t replicas);
// <replica>/checkpoints/step_00001234.safetensors
std::filesystem::path checkpoint_path(const std::filesystem::path& replica, int64_t step);
// <replica>/dumps/step_00001234
std::filesystem::path dump_dir(const std::filesystem::path& replica, int64_t step);
// <root>/analysis/step_00001234: the analyses a run config asks for at that step
std::filesystem::path analysis_dir(const std::filesystem::path& root, int64_t step);
// The steps of the checkpoints in <replica>/checkpoints, newest first.
std::vector<int64_t> checkpoint_steps(const std::filesystem::path& replica);
// The checkpoint with the most steps in <replica>/checkpoints, if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& replica);

// A temporary of an atomic write (.<name>.tmp.<pid>.<serial>), file or folder, which a killed writer leaves behind.
bool is_temporary(const std::string& filename);
// "step_" + eight digits (+ suffix): the names mechlab gives checkpoints and dump folders.
bool is_step_name(const std::string& filename, const std::string& suffix);

// Everything under `root` that mechlab writes (the lock file aside), deepest first, so removing them in
// order empties each folder before the folder itself; files of anyone else are not listed, nor the
// folders that hold them. A temporary folder (a result being assembled) is one entry, with its content.
std::vector<std::filesystem::path> mechlab_entries(const std::filesystem::path& root);
// The temporary files and folders under `root` (the run's own folders only).
std::vector<std::filesystem::path> temporary_files(const std::filesystem::path& root);

}  // namespace mechlab::run_layout
