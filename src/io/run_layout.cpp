#include "io/run_layout.h"

#include <fmt/format.h>

#include <algorithm>

namespace mechlab::run_layout {

namespace fs = std::filesystem;

fs::path replica_dir(const fs::path& root, int64_t r, int64_t replicas) {
  return replicas == 1 ? root : root / ("replica_" + std::to_string(r));
}

fs::path checkpoint_path(const fs::path& replica, int64_t step) {
  return replica / kCheckpoints / fmt::format("step_{:08d}.safetensors", step);
}

fs::path dump_dir(const fs::path& replica, int64_t step) { return replica / kDumps / fmt::format("step_{:08d}", step); }

fs::path analysis_dir(const fs::path& root, int64_t step) { return root / kAnalysis / fmt::format("step_{:08d}", step); }

bool is_step_name(const std::string& filename, const std::string& suffix) {
  constexpr size_t kDigits = 8;
  if (filename.size() != 5 + kDigits + suffix.size() || filename.rfind("step_", 0) != 0) return false;
  if (filename.compare(5 + kDigits, suffix.size(), suffix) != 0) return false;
  return std::all_of(filename.begin() + 5, filename.begin() + 5 + kDigits, [](char c) { return c >= '0' && c <= '9'; });
}

std::vector<int64_t> checkpoint_steps(const fs::path& replica) {
  std::vector<int64_t> steps;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(replica / kCheckpoints, error)) {
    const std::string name = entry.path().filename().string();
    if (is_step_name(name, ".safetensors")) steps.push_back(std::stoll(name.substr(5, 8)));
  }
  std::sort(steps.rbegin(), steps.rend());
  return steps;
}

std::optional<fs::path> latest_checkpoint(const fs::path& replica) {
  const std::vector<int64_t> steps = checkpoint_steps(replica);
  if (steps.empty()) return std::nullopt;
  return checkpoint_path(replica, steps.front());
}

bool is_temporary(const std::string& filename) {
  const size_t tmp = filename.rfind(".tmp.");
  if (filename.empty() || filename[0] != '.' || tmp == std::string::npos || tmp == 0) return false;
  const std::string tail = filename.substr(tmp + 5);  // <pid>.<serial>
  const size_t dot = tail.find('.');
  auto digits = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
  return dot != std::string::npos && digits(tail.substr(0, dot)) && digits(tail.substr(dot + 1));
}

namespace {
// What a folder of the run holds, by folder.
enum class Kind { foreign, file, root, replica, checkpoints, dumps, dump, analysis };

bool is_replica_name(const std::string& name) {
  return name.size() > 8 && name.rfind("replica_", 0) == 0 && name.find_first_not_of("0123456789", 8) == std::string::npos;
}

// What the entry `name` of a folder of kind `parent` is, if mechlab wrote it.
Kind kind_of(Kind parent, const std::string& name, bool directory) {
  if (is_temporary(name)) return Kind::file;  // a temporary file, or a folder being assembled: one entry, whole
  switch (parent) {
    case Kind::root:
      if (!directory && (name == kProvenance || name == kLog || name == kVocabulary)) return Kind::file;
      if (directory && is_replica_name(name)) return Kind::replica;
      if (directory && name == kAnalysis) return Kind::analysis;
      [[fallthrough]];  // a single replica writes its files at the root
    case Kind::replica:
      if (!directory && (name == kConfig || name == kMetrics || name == kSummary)) return Kind::file;
      if (directory && name == kCheckpoints) return Kind::checkpoints;
      if (directory && name == kDumps) return Kind::dumps;
      return Kind::foreign;
    case Kind::checkpoints:
      return !directory && (is_step_name(name, ".safetensors") ||
                            is_step_name(name, std::string(".safetensors") + kCorruptSuffix))
                 ? Kind::file
                 : Kind::foreign;
    case Kind::dumps:
      if (!directory && name == kProbeTokens) return Kind::file;
      return directory && is_step_name(name, "") ? Kind::dump : Kind::foreign;
    case Kind::dump:
      return directory ? Kind::foreign : Kind::file;
    case Kind::analysis:  // result folders (analysis/<name>, analysis/step_<N>/<name>) of arrays and tables
      if (directory) return Kind::analysis;
      return name.ends_with(".npy") || name == "table.json" ? Kind::file : Kind::foreign;
    default:
      return Kind::foreign;
  }
}

// Appends the mechlab files under `folder` (of kind `kind`), each folder after its content when all of
// that content is mechlab's; returns whether all of it was. Symbolic links are never followed.
bool gather(const fs::path& folder, Kind kind, std::vector<fs::path>& out) {
  bool all_mine = true;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const bool directory = entry.symlink_status(error).type() == fs::file_type::directory;
    const Kind child = kind_of(kind, entry.path().filename().string(), directory);
    if (child == Kind::foreign) {
      all_mine = false;
    } else if (child == Kind::file) {
      out.push_back(entry.path());
    } else if (gather(entry.path(), child, out)) {
      out.push_back(entry.path());
    } else {
      all_mine = false;
    }
  }
  return all_mine && !error;
}
}  // namespace

std::vector<fs::path> mechlab_entries(const fs::path& root) {
  std::vector<fs::path> out;
  gather(root, Kind::root, out);
  return out;
}

std::vector<fs::path> temporary_files(const fs::path& root) {
  std::vector<fs::path> out;
  for (const fs::path& path : mechlab_entries(root))
    if (is_temporary(path.filename().string())) out.push_back(path);
  return out;
}

}  // namespace mechlab::run_layout
