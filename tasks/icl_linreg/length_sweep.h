// The model against the baselines at other prompt lengths L' than it was trained on (length
// generalisation), written beside each dump as mse_by_length.csv, with the circuits as kq.npy and ov.npy.
#pragma once
#include <filesystem>
#include <vector>

#include "nn/transformer.h"
#include "tasks/icl_linreg/prompts.h"

namespace mechlab {

struct LengthSweep {
  std::vector<int64_t> lengths;  // the L' to evaluate at
  int64_t prompts = 10000;       // fresh prompts per length, the same for every replica and dump
};

// Into dirs[r] for replica r: mse_by_length.csv (prompt_length, prompts, model, ridge, least_squares, gd,
// debiased_gd; gd and debiased_gd with step sizes fitted at that length; MSEs averaged over the outputs),
// kq.npy (H, D, D), ov.npy (H, D), or (H, D, K) with K > 1 outputs.
void write_length_sweep(const Transformer& model, const PromptSampler& sampler, const LengthSweep& sweep,
                        const std::vector<std::filesystem::path>& dirs);

}  // namespace mechlab
