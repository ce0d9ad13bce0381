// summary.json: each replica's final numbers, taken from the last record of its metrics.jsonl (the step
// that every run logs and evaluates), so a run that was stopped and resumed at any point, even after its
// last step, writes the same bytes as one that never stopped.
#pragma once
#include <array>
#include <filesystem>

#include "config/run_config.h"

namespace mechlab {

// The fields of a metrics.jsonl record that describe the training step rather than the evaluation.
inline constexpr std::array<const char*, 6> kStepFields{"step", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"};

// Writes <replica_dir>/summary.json of replica r: name, seed, steps, final_train_loss and every evaluation
// metric of the last step. Throws std::runtime_error when metrics.jsonl does not end with that step.
void write_summary(const RunConfig& run, int64_t r, const std::filesystem::path& replica_dir);

}  // namespace mechlab
