// Evaluating the metrics tasks offer to analyses (task/analysis_metric.h) on a model's outputs: one value
// per example, from the batch's annotations, with ops (differentiable except accuracy), so head-importance
// gradients and batched patches share one definition.
#pragma once
#include <string>
#include <vector>

#include "nn/transformer_config.h"
#include "task/analysis_metric.h"
#include "task/task.h"

namespace mechlab {

// A metric of each example as a sum over its positions and their count, (R, B) each on the outputs' device:
// the batch's value is sum(total) / sum(weight) (for a loss the mean over every scored position of the batch,
// as training takes it; for the others weight is 1 and this is the mean over examples).
struct ExampleMetric {
  Tensor total, weight;
};
ExampleMetric example_metric(const AnalysisMetric& metric, const Tensor& outputs, const Batch& batch,
                             const TransformerConfig& config);
// The same for a metric read at one position (m.position), from the outputs there (R, B, W).
ExampleMetric example_metric_at(const AnalysisMetric& metric, const Tensor& picked, const Batch& batch);
// The batch's value per replica (R), differentiable.
Tensor batch_metric(const ExampleMetric& m);
// Each slot's value (host, R * S) when the batch is S slots of B examples (analysis/slot_patches.h).
std::vector<double> slot_values(const ExampleMetric& m, int64_t slots);
// The same as a tensor (R, S) on the metric's device, to be read later, so that slot passes queue one behind
// another on a GPU instead of waiting for each other's results.
Tensor slot_metric(const ExampleMetric& m, int64_t slots);

// The metric named `name` among `metrics`; throws ConfigError at `json_path` listing them.
const AnalysisMetric& find_metric(const std::vector<AnalysisMetric>& metrics, const std::string& name,
                                  const std::string& json_path);

}  // namespace mechlab
