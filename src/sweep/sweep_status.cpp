// A sweep's packs' states from their run directories and state records (sweep_status.h).
#include "sweep/sweep_status.h"

#include <fmt/format.h>

#include <csignal>
#include <cstring>
#include <fstream>

#include "config/json_file.h"
#include "io/atomic_file.h"
#include "io/provenance.h"
#include "io/run_layout.h"
#include "io/run_lock.h"
#include "sweep/sweep_layout.h"

namespace mechlab {

namespace fs = std::filesystem;
using json = nlohmann::json;

const char* state_name(PackState state) {
  switch (state) {
    case PackState::done: return "done";
    case PackState::running: return "running";
    case PackState::failed: return "failed";
    case PackState::interrupted: return "interrupted";
    case PackState::queued: return "queued";
    case PackState::missing: return "missing";
  }
  return "?";
}

std::string exit_text(int code) {
  std::string why;
  if (code > 128 && code < 128 + 65) {
    const char* name = sigabbrev_np(code - 128);
    why = code == 129 || code == 130 ? "interrupted, checkpointed" : fmt::format("killed by SIG{}", name ? name : "?");
  } else if (code == 1) {
    why = "error at run time";
  } else if (code == 2) {
    why = "a mistake in the config or arguments";
  } else if (code == 3) {
    why = "training diverged";
  }
  return why.empty() ? fmt::format("exit {}", code) : fmt::format("exit {} ({})", code, why);
}

void write_pack_record(const fs::path& dir, size_t pack, json record) {
  record["time"] = iso_time_now();
  write_file_atomically(sweep_layout::pack_record(dir, pack), dump_json(record));
}

namespace {
// The step of the last complete record of metrics.jsonl, or -1. Reads only the file's end: a long run's
// metrics are megabytes, and status looks at every pack.
int64_t last_step(const fs::path& metrics) {
  std::ifstream file(metrics, std::ios::binary | std::ios::ate);
  if (!file) return -1;
  const std::streamoff size = file.tellg(), tail = std::min<std::streamoff>(size, 1 << 16);
  std::string text(static_cast<size_t>(tail), '\0');
  file.seekg(size - tail);
  if (!file.read(text.data(), tail)) return -1;
  const size_t end = text.rfind('\n');  // the last record ends here; anything after it is being written
  if (end == std::string::npos || end == 0) return -1;
  const size_t before = text.rfind('\n', end - 1), begin = before == std::string::npos ? 0 : before + 1;
  const json last = json::parse(text.substr(begin, end - begin), nullptr, false);
  return last.is_object() && last.contains("step") && last["step"].is_number_integer() ? last["step"].get<int64_t>() : -1;
}

std::optional<json> read_record(const fs::path& path) {
  if (!fs::exists(path)) return std::nullopt;
  try {
    return read_json_file(path);
  } catch (const std::exception&) {
    return std::nullopt;  // a record being replaced is renamed into place, so this is someone else's file
  }
}

PackStatus pack_status(const SweepManifest& sweep, size_t p) {
  const ManifestPack& pack = sweep.packs[p];
  const fs::path root = sweep_layout::pack_dir(sweep.dir, p);
  const int64_t replicas = static_cast<int64_t>(pack.runs.size());
  PackStatus s;
  for (int64_t r = 0; r < replicas; ++r)
    if (fs::exists(run_layout::replica_dir(root, r, replicas) / run_layout::kSummary)) ++s.runs_done;
  s.step = last_step(run_layout::replica_dir(root, 0, replicas) / run_layout::kMetrics);
  try {
    s.steps = read_json_file(sweep_layout::pack_config(sweep.dir, p)).at("train").at("steps").get<int64_t>();
  } catch (const std::exception&) {
  }
  const std::optional<json> record = read_record(sweep_layout::pack_record(sweep.dir, p));
  const std::string recorded = record ? record->value("state", "") : "";
  if (record && record->contains("exit_code")) s.exit_code = (*record)["exit_code"].get<int>();
  if (s.runs_done == pack.runs.size()) {
    s.state = PackState::done;
  } else if (std::optional<std::string> holder = lock_holder(root)) {
    s.state = PackState::running;
    s.detail = *holder;
    if (recorded == "started") s.gpu = record->value("gpu", "");
  } else if (recorded == "ended" && s.exit_code && *s.exit_code != 0 && *s.exit_code != 129 && *s.exit_code != 130) {
    s.state = PackState::failed;
    s.detail = record->value("last_line", "");
  } else if (recorded == "queued") {
    s.state = PackState::queued;
    s.detail = record->value("job", "");
  } else if (recorded == "started" || recorded == "ended" || s.step >= 0) {
    s.state = PackState::interrupted;
    if (recorded == "started") s.detail = "its process ended without a record (killed, or its machine went down)";
  }
  return s;
}
}  // namespace

std::vector<PackStatus> sweep_status(const SweepManifest& sweep) {
  std::vector<PackStatus> out;
  for (size_t p = 0; p < sweep.packs.size(); ++p) out.push_back(pack_status(sweep, p));
  return out;
}

}  // namespace mechlab
