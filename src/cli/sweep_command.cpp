// mechlab sweep plan SPEC: the dry run of a sweep. Every run with its overrides, seed and content hash, the
// packs (one array task each) with their estimated cost, and the totals; nothing is written.
#include <fmt/format.h>

#include "cli/commands.h"
#include "sweep/sweep_plan.h"
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

void print_plan(const SweepSpec& spec, const SweepPlan& plan) {
  fmt::print("sweep {}: {} runs in {} packs (at most {} seeds each), directory {}\n\n", spec.name, plan.runs.size(),
             plan.packs.size(), spec.pack, spec.out.string());
  fmt::print("{:>5}  {:16}  {:>4}  {:>6}  {}\n", "run", "hash", "pack", "seed", "overrides");
  std::vector<size_t> pack_of(plan.runs.size());
  for (size_t p = 0; p < plan.packs.size(); ++p)
    for (size_t i : plan.packs[p].runs) pack_of[i] = p;
  for (size_t i = 0; i < plan.runs.size(); ++i)
    fmt::print("{:>5}  {:16}  {:>4}  {:>6}  {}\n", i, plan.runs[i].hash, pack_of[i], plan.runs[i].seed,
               point_text(plan.runs[i].overrides));
  fmt::print("\n{:>4}  {:>5}  {:>12}  {:>10}  {}\n", "pack", "runs", "training", "memory", "seeds");
  double flops = 0;
  for (size_t p = 0; p < plan.packs.size(); ++p) {
    const SweepPack& pack = plan.packs[p];
    flops += pack.flops;
    std::string seeds;
    for (size_t i : pack.runs) {
      if (!seeds.empty()) seeds += ',';
      seeds += std::to_string(plan.runs[i].seed);
    }
    fmt::print("{:>4}  {:>5}  {:>8.3g} TF  {:>10}  {}\n", p, pack.runs.size(), pack.flops / 1e12,
               bytes_text(pack.memory_bytes), seeds);
  }
  fmt::print("\ntotal: {:.3g} TFLOP of training (6 x parameters x tokens; attention and evaluation not counted); "
             "one array task per pack, 0-{}\n", flops / 1e12, plan.packs.empty() ? 0 : plan.packs.size() - 1);
}
}  // namespace

Command add_sweep(CLI::App& app) {
  auto spec_file = std::make_shared<std::string>();
  CLI::App* sub = app.add_subcommand("sweep", "Plan sweeps of many runs (seeds packed as replicas)");
  sub->require_subcommand(1);
  CLI::App* plan = sub->add_subcommand("plan", "Dry run: list every run, its hash, the packs and their cost; "
                                               "nothing is written");
  plan->add_option("spec", *spec_file, "sweep spec (JSON)")->required()->check(CLI::ExistingFile);
  return [spec_file, plan] {
    if (plan->parsed()) {
      const SweepSpec spec = read_sweep_spec(*spec_file);
      print_plan(spec, plan_sweep(spec));
    }
    return 0;
  };
}

}  // namespace mechlab::cli
