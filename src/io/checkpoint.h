// Checkpoints: one replica's training state in a safetensors file. Parameters keep their TransformerLens
// names and shapes without the replica axis (blocks.0.attn.W_Q is (H, D, E)); optimizer moments are
// "optim.<name>.m" / "optim.<name>.v"; __metadata__ holds the resolved config ("config"), the number of
// steps taken ("step"), the format ("format"), the CRC-32 of the tensor data ("data_crc32", 8 hex digits:
// zlib.crc32 of the bytes after the header) and the number of metrics.jsonl records written before it
// ("metrics_records") and why it was written ("reason": "schedule", or "interruption" for the checkpoint
// of a stop request, which the resumed run removes once it has a newer one). Nothing time-dependent is stored, so two runs that reach the same state write
// byte-identical files.
#pragma once
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "io/run_layout.h"
#include "io/safetensors.h"
#include "nn/transformer.h"
#include "optim/optimizer.h"

namespace mechlab {

inline constexpr const char* kCheckpointFormat = "mechlab-checkpoint-1";

enum class CheckpointReason { schedule, interruption };

void save_checkpoint(const std::filesystem::path& path, const Transformer& model, const Optimizer* optimizer,
                     int64_t replica, int64_t step, const nlohmann::json& replica_config, int64_t metrics_records,
                     CheckpointReason reason = CheckpointReason::schedule);

struct CheckpointInfo {
  int64_t step = 0;
  nlohmann::json config;                   // the replica's resolved config
  std::optional<int64_t> metrics_records;  // absent in checkpoints of older versions
  bool interruption = false;               // written for a stop request, off the schedule
};

// A checkpoint read whole and verified: its format, metadata and, when it has one, the checksum of its data.
struct Checkpoint {
  CheckpointInfo info;
  SafetensorsFile file;
};

// Reads and verifies `path`. Throws std::runtime_error naming the file and what is wrong with it (not a
// mechlab checkpoint, truncated, a checksum that does not match the data: a corrupt file).
Checkpoint read_checkpoint(const std::filesystem::path& path);
// Reads only the metadata (step and config) of a checkpoint, verified as read_checkpoint does.
CheckpointInfo read_checkpoint_info(const std::filesystem::path& path);

// Throws std::runtime_error naming the first tensor that `model` (and the optimizer's state, when given)
// has and the checkpoint lacks, or holds with another dtype or shape.
void check_checkpoint_tensors(const Checkpoint& checkpoint, const Transformer& model, const Optimizer* optimizer);
// Loads parameters (and optimizer moments and step count when optimizer is given) into replica `replica`,
// after check_checkpoint_tensors.
void load_checkpoint(const Checkpoint& checkpoint, Transformer& model, Optimizer* optimizer, int64_t replica);
CheckpointInfo load_checkpoint(const std::filesystem::path& path, Transformer& model, Optimizer* optimizer,
                               int64_t replica);

using run_layout::checkpoint_path;
using run_layout::latest_checkpoint;

}  // namespace mechlab
