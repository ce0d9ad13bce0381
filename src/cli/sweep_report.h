// What `mechlab sweep plan` and `mechlab sweep status` print.
#pragma once
#include "sweep/sweep_manifest.h"
#include "sweep/sweep_plan.h"

namespace mechlab::cli {

// Every run (index, hash, pack, seed, overrides), every pack (runs, estimated cost, seeds), the totals.
void print_plan(const SweepSpec& spec, const SweepPlan& plan);
// The counts of runs by state, then one line per pack (and per run with `runs`).
void print_status(const SweepManifest& sweep, bool runs);

}  // namespace mechlab::cli
