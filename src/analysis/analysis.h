// One entry of an analysis spec (docs/analysis.md): parsed and checked against the model and the task before
// anything runs, then run on a context that holds the model, the task's batches and the chunk size. Each kind
// lives in its own file (ablation.cpp, activation_patching.cpp, ...); analysis_spec.cpp dispatches on "kind".
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/metric.h"
#include "analysis/slot_patches.h"
#include "config/spec_reader.h"
#include "nn/transformer.h"
#include "task/task.h"

namespace mechlab {

// What a spec entry is checked against.
struct SpecTarget {
  const TransformerConfig& model;
  std::vector<AnalysisMetric> metrics;  // the task's
  int64_t positions = 0;                // T of the task's sequences
  bool has_contrast = false;
  std::vector<std::string> position_roles;  // the roles of the contrast batch's annotations
  std::vector<std::string> labels;          // the labels its examples carry (Annotations::labels: template, ...)
};

// What a kind's run sees. Batches are on the model's device, in its dtype.
struct AnalysisContext {
  const Transformer& model;
  ContrastBatch contrast;  // base batches (clean.annotations name the roles)
  Batch reference;         // for mean and resample ablations
  int64_t chunk = 16;      // slots per forward pass

  // One forward pass of `batch`, capturing `hooks` (none: every hook point); outputs in captured["output"].
  std::map<std::string, Tensor> cache(const Batch& batch, const std::vector<std::string>& hooks = {}) const;
  // The metric of `batch`'s unpatched run per replica (host, R).
  std::vector<double> baseline(const AnalysisMetric& metric, const Batch& batch) const;
  // `count` patched runs of `base`, `chunk` at a time: fill(patches, slot, index) sets up slot `slot` of
  // the chunk as patched run `index`; prepare(first, slots), when given, runs before each chunk is filled
  // (what the chunk's patches depend on, such as path patching's first pass). Returns the metric, (R, count)
  // row-major on the host.
  using Fill = std::function<void(SlotPatches& patches, int64_t slot, int64_t index)>;
  using Prepare = std::function<void(int64_t first, int64_t slots)>;
  std::vector<double> patched_runs(const AnalysisMetric& metric, const Batch& base, int64_t count, const Fill& fill,
                                   const Prepare& prepare = nullptr) const;
};

// An analysis's output: arrays (R, ...) f64 on the host, written as .npy (TransformerLens' shapes, the
// replica axis dropped when R = 1), and a JSON table (how it was made, baselines, the values).
struct AnalysisResult {
  std::map<std::string, Tensor> arrays;
  nlohmann::json table = nlohmann::json::object();
};

class Analysis {
 public:
  virtual ~Analysis() = default;
  virtual AnalysisResult run(const AnalysisContext& context) const = 0;
  // Whether it patches between the clean and the corrupted batch.
  virtual bool needs_contrast() const { return true; }
};

// The entry at `path` of a spec, checked; throws ConfigError naming the JSON path of the first mistake.
std::unique_ptr<Analysis> parse_analysis(const SpecReader& entry, const SpecTarget& target);
// The kinds, for messages and docs.
std::vector<std::string> analysis_kinds();

inline constexpr const char* kNeedsContrast =
    "patches between a clean and a corrupted batch, which this spec's batch does not have (use \"batch\": "
    "\"contrast\" with a task that makes contrast batches)";

// Shared by the kinds: the metric an entry names (default: the task's first), and the normalised patching
// metric (m - m_corrupted) / (m_clean - m_corrupted) of each value, per replica.
const AnalysisMetric& entry_metric(const SpecReader& entry, const SpecTarget& target);
std::vector<double> normalised(const std::vector<double>& values, const std::vector<double>& clean,
                               const std::vector<double>& corrupted);
// Which positions an entry patches: "all" (default), a role of the batch's annotations ("trigger"), or a list.
struct PositionChoice {
  std::string role;              // when set, each example's position of this role
  std::vector<int64_t> listed;   // when set, these positions
  Where where(const Batch& batch) const;  // for SlotPatches::take (heads: every head)
  nlohmann::json describe() const;
};
PositionChoice parse_positions(const SpecReader& entry, const SpecTarget& target);

// (R, dims...) f64 host tensor from values in that order.
Tensor host_array(const std::vector<int64_t>& dims, const std::vector<double>& values);

}  // namespace mechlab
