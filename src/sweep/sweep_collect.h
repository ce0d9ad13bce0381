// `mechlab sweep collect DIR`: one tidy table of the sweep, a row per run: its index, hash, seed, pack and
// state, the swept keys as columns, then every number of its summary.json (empty where a run is not done).
// Written as <dir>/results.csv and <dir>/results.jsonl (the same rows), ready for pandas.read_csv/read_json.
#pragma once
#include <cstddef>

#include "sweep/sweep_manifest.h"

namespace mechlab {

struct CollectCounts {
  size_t rows = 0, done = 0, columns = 0;
};

CollectCounts collect_sweep(const SweepManifest& sweep);

}  // namespace mechlab
