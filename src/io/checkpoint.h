// Checkpoints: one replica's training state in a safetensors file. Parameters keep their TransformerLens
// names and shapes without the replica axis (blocks.0.attn.W_Q is (H, D, E)); optimizer moments are
// "optim.<name>.m" / "optim.<name>.v"; __metadata__ holds the resolved config ("config"), the number of
// steps taken ("step") and the format ("format"). Nothing time-dependent is stored, so two runs that
// reach the same state write byte-identical files.
#pragma once
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "nn/transformer.h"
#include "optim/optimizer.h"

namespace mechlab {

inline constexpr const char* kCheckpointFormat = "mechlab-checkpoint-1";

void save_checkpoint(const std::filesystem::path& path, const Transformer& model, const Optimizer* optimizer,
                     int64_t replica, int64_t step, const nlohmann::json& replica_config);

struct CheckpointInfo {
  int64_t step = 0;
  nlohmann::json config;  // the replica's resolved config
};

// Reads only the metadata (step and config) of a checkpoint.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);
// Loads parameters (and optimizer moments when optimizer is given) into replica `replica`.
CheckpointInfo load_checkpoint(const std::filesystem::path& path, Transformer& model, Optimizer* optimizer,
                               int64_t replica);

// <dir>/checkpoints/step_00001234.safetensors
std::filesystem::path checkpoint_path(const std::filesystem::path& dir, int64_t step);
// The checkpoint with the most steps in <dir>/checkpoints, if any.
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& dir);

}  // namespace mechlab
