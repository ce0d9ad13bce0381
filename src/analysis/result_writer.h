// Writing an analysis's result as a folder, all at once: RUN_DIR/analysis/<name>/ holds one .npy (f64) per
// array, the replica axis dropped for a single replica, and table.json (how it was made, the baselines, the
// peak memory). The folder is assembled under a temporary name and renamed into place, so a reader never
// sees half of it and a rerun replaces it whole.
#pragma once
#include <filesystem>

#include <nlohmann/json.hpp>

#include "analysis/analysis.h"

namespace mechlab {

// folder/batch/: the batch a plan's analyses ran on, so anyone can redo them: clean_inputs, corrupted_inputs
// (token ids i32 or vectors), and per role of the annotations position.<role>, token.<role>, mask.<role>; the
// replica axis dropped for a single replica, as in the results. `description` goes to its table.json.
void write_analysis_batch(const std::filesystem::path& folder, const ContrastBatch& batch, int64_t replicas);

void write_analysis_result(const std::filesystem::path& folder, const AnalysisResult& result, int64_t replicas,
                           const nlohmann::json& provenance);

}  // namespace mechlab
