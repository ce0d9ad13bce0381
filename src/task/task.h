// A synthetic task: samples batches from the counter-based generator and knows its own metrics.
// One implementation per task lives in tasks/<name>/; the registry (task/registry.h) builds them by name.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/transformer.h"
#include "random/philox.h"
#include "random/replica_key.h"
#include "task/analysis_metric.h"
#include "task/annotations.h"

namespace mechlab {

// One batch for R replicas. Inputs are i32 token ids (R, B, T) or f32 vectors (R, B, T, d_input);
// targets are i32 ids (R, B, T) for a cross-entropy task; loss_mask (R, B, T) selects the positions
// that count (undefined: all of them); annotations say what each example is (task/annotations.h).
struct Batch {
  Tensor inputs;
  Tensor targets;
  Tensor loss_mask;
  Annotations annotations;

  Batch to(Device device) const {
    return {inputs.to(device), targets.to(device), loss_mask.defined() ? loss_mask.to(device) : Tensor(), annotations};
  }
};

// Two batches that differ where the task says they should (the token a copy reads, the regression weights),
// for patching: the same annotations hold for both, and metrics always score against the clean targets.
struct ContrastBatch {
  Batch clean;
  Batch corrupted;
  std::string description;  // how corrupted differs from clean, for the analysis tables
};

// One part of a run's peak memory, for the check before a run starts (train/memory_estimate.h).
struct MemoryPart {
  std::string what;  // "activations of a training step (64 replicas x 4096 sequences of 64 positions)"
  std::string key;   // the config key that sizes it most: train.batch_size
  double bytes = 0;
};

// Flat metric names to values, one map per replica, e.g. {"loss_bigram": 2.24, "bos_attn.L0H0": 0.74}.
using Metrics = std::map<std::string, double>;

// For Task::adapt_model: sets model.<key> to `value` when the user left it at 0, and throws ConfigError naming
// model.<key> when they set something else (`why` says what the task needs).
void require_model_value(nlohmann::json& model, const char* key, int64_t value, const std::string& why);

class Task {
 public:
  virtual ~Task() = default;

  // Fills in the model fields the task dictates (d_vocab, n_ctx, input kind...) in the resolved "model"
  // section, so config.json shows them; throws ConfigError naming the model key when a user's value
  // contradicts the task.
  virtual void adapt_model(nlohmann::json& model) const = 0;

  // A batch of `batch_size` examples per replica, a pure function of (replica key, stream, step).
  virtual Batch sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
                       uint32_t step) const = 0;

  // An evaluation in two phases (train/eval_runner.h runs them). The device phase computes every tensor
  // the metrics need with ops alone (no reads to the host), so it can be recorded once as a CUDA graph and
  // replayed at each evaluation; the host phase turns those tensors (copied to the CPU) into metrics.
  using EvaluationTensors = std::map<std::string, Tensor>;
  virtual EvaluationTensors evaluation_tensors(const Transformer& model, const Batch& batch) const = 0;
  virtual std::vector<Metrics> summarize(const EvaluationTensors& host_tensors, const Batch& batch) const = 0;

  // The loss mask (R, B, T) its batches carry for these inputs (R, B, T[, W]), for losses of inputs from
  // elsewhere (mechlab forward); undefined: every position counts.
  virtual Tensor loss_mask_for(const Tensor& /*inputs*/) const { return Tensor(); }

  // The length T of the sequences it feeds the model, and the config key that sets it.
  virtual int64_t sequence_length() const = 0;
  virtual std::string sequence_length_key() const = 0;
  // Peak bytes of an evaluation of `sequences` sequences (all replicas): a forward pass without gradients,
  // plus whatever the task captures and runs on top of it.
  virtual double evaluation_bytes(const TransformerConfig& model, double sequences) const;
  // What the task's analyses beside each dump hold (default: nothing), one part each.
  virtual std::vector<MemoryPart> analysis_memory(const TransformerConfig& /*model*/, int64_t /*replicas*/) const {
    return {};
  }

  // For analysis (mechlab analyze): clean/corrupted pairs of `batch_size` examples per replica, drawn from
  // RandomStream::analysis, of one of the task's contrast kinds (a spec's "contrast"; "" is the first, and a
  // task with an empty list has one unnamed kind); the reference batch mean and resample ablations draw from
  // (default: the task's own distribution, step 1 of that stream); the metrics an analysis may name. A task
  // without contrast batches throws std::invalid_argument saying so.
  virtual std::vector<std::string> contrast_kinds() const { return {}; }
  virtual ContrastBatch contrast_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size,
                                       const std::string& kind) const;
  virtual Batch reference_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size) const {
    return sample(replicas, batch_size, RandomStream::analysis, 1);
  }
  virtual std::vector<AnalysisMetric> analysis_metrics() const { return {}; }
  // Adds the annotations any batch of the task can carry (sets of positions its metrics read).
  virtual void annotate(Batch& /*batch*/) const {}

  // The text of each token id, written to the run directory as vocab.json so token ids can be decoded;
  // null for tasks whose inputs are not tokens.
  virtual nlohmann::json vocabulary() const { return nullptr; }

  // Task-specific analyses written beside each probe dump, into dump_dirs[r] for replica r (default: none).
  virtual void write_dump_analyses(const Transformer& /*model*/,
                                   const std::vector<std::filesystem::path>& /*dump_dirs*/) const {}
};

}  // namespace mechlab
