#include "cli/sweep_report.h"

#include <fmt/format.h>

#include <map>

#include "sweep/launchers.h"
#include "sweep/sweep_layout.h"
#include "sweep/sweep_status.h"
#include "train/memory_estimate.h"

namespace mechlab::cli {

namespace {
std::string point_text(const SweepPoint& point) {
  std::string text;
  for (const SweepAssignment& a : point) {
    if (!text.empty()) text += ' ';
    text += override_text(a);
  }
  return text.empty() ? "(the base config)" : text;
}

std::string overrides_text(const nlohmann::json& overrides) {
  std::string text;
  for (const auto& [key, value] : overrides.items())
    text += (text.empty() ? "" : " ") + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  return text.empty() ? "(the base config)" : text;
}
}  // namespace

void print_plan(const SweepSpec& spec, const SweepPlan& plan) {
  fmt::print("sweep {}: {} runs in {} packs (at most {} runs each), directory {}\n\n", spec.name, plan.runs.size(),
             plan.packs.size(), spec.pack, spec.out.string());
  fmt::print("{:>5}  {:16}  {:>4}  {:>7}  {:>6}  {}\n", "run", "hash", "pack", "replica", "seed", "overrides");
  for (size_t i = 0; i < plan.runs.size(); ++i) {
    const SweepRun& run = plan.runs[i];
    fmt::print("{:>5}  {:16}  {:>4}  {:>7}  {:>6}  {}\n", i, run.hash, run.pack, run.replica, run.seed,
               point_text(run.overrides));
  }
  fmt::print("\n{:>4}  {:>5}  {:>12}  {:>10}  {}\n", "pack", "runs", "training", "memory", "seeds");
  double flops = 0;
  for (size_t p = 0; p < plan.packs.size(); ++p) {
    const SweepPack& pack = plan.packs[p];
    flops += pack.flops;
    std::vector<size_t> seed_list;  // shown as ranges, 0-63
    for (size_t i : pack.runs) seed_list.push_back(static_cast<size_t>(plan.runs[i].seed));
    const std::string seeds = array_ranges(seed_list);
    fmt::print("{:>4}  {:>5}  {:>8.3g} TF  {:>10}  {}\n", p, pack.runs.size(), pack.flops / 1e12,
               bytes_text(pack.memory_bytes), seeds);
  }
  fmt::print("\ntotal: {:.3g} TFLOP of training (6 x parameters x tokens; attention and evaluation not counted); "
             "one array task per pack, 0-{}\n", flops / 1e12, plan.packs.empty() ? 0 : plan.packs.size() - 1);
}

void print_status(const SweepManifest& sweep, bool runs) {
  const std::vector<PackStatus> status = sweep_status(sweep);
  std::map<PackState, size_t> runs_in;
  size_t done = 0;
  for (size_t p = 0; p < status.size(); ++p) {
    done += status[p].runs_done;
    runs_in[status[p].state] += sweep.packs[p].runs.size() - (status[p].state == PackState::done ? 0 : status[p].runs_done);
  }
  std::string counts = fmt::format("{} done", done);
  for (PackState s : {PackState::running, PackState::failed, PackState::interrupted, PackState::queued, PackState::missing})
    counts += fmt::format(", {} {}", runs_in[s], state_name(s));
  fmt::print("sweep {} ({}): {} runs in {} packs: {}\n\n", sweep.name, sweep.dir.string(), sweep.runs.size(),
             sweep.packs.size(), counts);
  fmt::print("{:9}  {:>4}  {:11}  {:>13}  {}\n", "pack", "runs", "state", "step", "detail");
  for (size_t p = 0; p < status.size(); ++p) {
    const PackStatus& s = status[p];
    std::string detail = s.gpu.empty() ? s.detail : fmt::format("GPU {}; {}", s.gpu, s.detail);
    if (s.state == PackState::failed && s.exit_code)
      detail = exit_text(*s.exit_code) + (s.detail.empty() ? "" : ": " + s.detail);
    if (s.state == PackState::failed || s.state == PackState::interrupted)
      detail += (detail.empty() ? "" : "; ") + fmt::format("log {}", sweep_layout::pack_log(sweep.dir, p).string());
    const std::string step = s.step < 0 ? "-" : fmt::format("{}/{}", s.step, s.steps);
    fmt::print("{:9}  {:>4}  {:11}  {:>13}  {}\n", sweep_layout::pack_name(p), sweep.packs[p].runs.size(),
               state_name(s.state), step, detail);
  }
  if (!runs) return;
  fmt::print("\n{:>5}  {:16}  {:9}  {:>6}  {:11}  {}\n", "run", "hash", "pack", "seed", "state", "overrides");
  for (size_t i = 0; i < sweep.runs.size(); ++i) {
    const ManifestRun& run = sweep.runs[i];
    const PackStatus& s = status[run.pack];
    const bool run_done = std::filesystem::exists(sweep_layout::run_link(sweep.dir, run.hash) / "summary.json");
    fmt::print("{:>5}  {:16}  {:9}  {:>6}  {:11}  {}\n", i, run.hash, sweep_layout::pack_name(run.pack), run.seed,
               run_done ? "done" : state_name(s.state), overrides_text(run.overrides));
  }
}

}  // namespace mechlab::cli
