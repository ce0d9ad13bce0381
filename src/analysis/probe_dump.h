// Dumps of the fixed probe batch at scheduled steps, as .npy files a researcher opens with NumPy:
//   <replica dir>/dumps/probe_tokens.npy                            (B, T) the probe inputs
//   <replica dir>/dumps/step_00000500/blocks.1.attn.hook_pattern.npy (B, H, T, T) query-major
//   <replica dir>/dumps/step_00000500/blocks.1.attn.value_norms.npy  (B, H, T) ||W_O v|| per head and position
//   <replica dir>/dumps/step_00000500/resid_norms.npy                (L + 1, B, T) ||h|| at the input and after each layer
//   <replica dir>/dumps/step_00000500/logits.npy                     (B, T, V) the model's outputs
#pragma once
#include <filesystem>
#include <vector>

#include "nn/transformer.h"
#include "task/task.h"

namespace mechlab {

void write_probe_tokens(const Batch& probe, const std::vector<std::filesystem::path>& replica_dirs);
void write_probe_dump(const Transformer& model, const Batch& probe, int64_t step,
                      const std::vector<std::filesystem::path>& replica_dirs);

}  // namespace mechlab
