// Writing and reading a sweep directory's plan (sweep_manifest.h).
#include "sweep/sweep_manifest.h"

#include <fmt/format.h>

#include <algorithm>

#include "config/config_error.h"
#include "config/json_file.h"
#include "io/atomic_file.h"
#include "io/provenance.h"
#include "sweep/sweep_layout.h"

namespace mechlab {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {
json plan_json(const SweepSpec& spec, const SweepPlan& plan) {
  json swept = json::array(), runs = json::array(), packs = json::array();
  for (const SweepPoint& point : spec.points)
    for (const SweepAssignment& a : point)
      if (a.from.rfind("axes", 0) == 0 && std::find(swept.begin(), swept.end(), a.key) == swept.end()) swept.push_back(a.key);
  for (const SweepRun& run : plan.runs) {
    json overrides = json::object();
    for (const SweepAssignment& a : run.overrides) overrides[a.key] = a.value;
    runs.push_back({{"hash", run.hash}, {"seed", run.seed}, {"pack", run.pack}, {"replica", run.replica},
                    {"overrides", overrides}});
  }
  for (const SweepPack& pack : plan.packs)
    packs.push_back({{"runs", pack.runs}, {"flops", pack.flops}, {"memory_bytes", pack.memory_bytes}});
  return {{"name", spec.name}, {"spec", spec.source}, {"swept", swept}, {"runs", runs}, {"packs", packs}};
}

// What makes two plans the same sweep: the runs, in order, and how they are packed.
bool same_sweep(const json& a, const json& b) {
  auto shape = [](const json& plan) {
    json runs = json::array();
    for (const json& run : plan.at("runs")) runs.push_back({run.at("hash"), run.at("pack"), run.at("replica")});
    return runs;
  };
  return shape(a) == shape(b);
}

void write_plan_files(const fs::path& dir, const SweepPlan& plan, const json& manifest) {
  fs::create_directories(dir / "packs");
  fs::create_directories(dir / "runs");
  fs::create_directories(dir / "logs");
  for (size_t p = 0; p < plan.packs.size(); ++p)
    write_file_atomically(sweep_layout::pack_config(dir, p), dump_json(plan.packs[p].config));
  for (const SweepRun& run : plan.runs) {
    const int64_t replicas = static_cast<int64_t>(plan.packs[run.pack].runs.size());
    fs::create_directory_symlink(sweep_layout::run_target(run.pack, run.replica, replicas),
                                 sweep_layout::run_link(dir, run.hash));
  }
  write_file_atomically(dir / sweep_layout::kPlan, dump_json(manifest));
}
}  // namespace

void write_sweep_directory(const SweepSpec& spec, const SweepPlan& plan) {
  const fs::path& dir = spec.out;
  const json manifest = plan_json(spec, plan);
  std::error_code error;
  if (fs::exists(dir / sweep_layout::kPlan, error)) {
    if (!same_sweep(read_json_file(dir / sweep_layout::kPlan), manifest))
      throw ConfigError("out", fmt::format("'{}' holds another sweep (other runs or another packing); choose another "
                                           "out, or remove that directory to start this one there", dir.string()));
    return;
  }
  if (fs::exists(dir, error) && !fs::is_empty(dir, error))
    throw ConfigError("out", fmt::format("'{}' exists and is not a sweep directory (no {}); choose another out",
                                         dir.string(), sweep_layout::kPlan));
  if (fs::exists(dir, error)) fs::remove(dir, error);  // empty: replaced by the assembled one
  if (!dir.parent_path().empty()) fs::create_directories(dir.parent_path());
  const fs::path assembling = create_temporary_directory_beside(dir);
  try {
    write_plan_files(assembling, plan, manifest);
    fs::rename(assembling, dir);
  } catch (...) {
    fs::remove_all(assembling, error);
    throw;
  }
}

SweepManifest read_sweep_directory(const fs::path& dir) {
  if (!fs::exists(dir / sweep_layout::kPlan))
    throw ConfigError(dir.string(), fmt::format("is not a sweep directory (no {}); give the directory `mechlab sweep "
                                                "launch` made (the spec's out, results/sweeps/<name> by default)",
                                                sweep_layout::kPlan));
  const json plan = read_json_file(dir / sweep_layout::kPlan);
  SweepManifest m;
  m.dir = dir;
  try {
    m.name = plan.at("name").get<std::string>();
    m.swept = plan.at("swept").get<std::vector<std::string>>();
    for (const json& run : plan.at("runs"))
      m.runs.push_back({run.at("hash").get<std::string>(), run.at("seed").get<uint64_t>(), run.at("overrides"),
                        run.at("pack").get<size_t>(), run.at("replica").get<int64_t>()});
    for (const json& pack : plan.at("packs"))
      m.packs.push_back({pack.at("runs").get<std::vector<size_t>>(), pack.at("flops").get<double>(),
                         pack.at("memory_bytes").get<double>()});
  } catch (const json::exception& e) {
    throw ConfigError((dir / sweep_layout::kPlan).string(), std::string("is not a plan mechlab wrote: ") + e.what());
  }
  for (const ManifestRun& run : m.runs)
    if (run.pack >= m.packs.size())
      throw ConfigError((dir / sweep_layout::kPlan).string(), "names a pack it does not have; relaunch the sweep elsewhere");
  return m;
}

}  // namespace mechlab
