// In-context regression's contrast batches: a clean prompt and the same prompt with every y (context and
// query target) negated, which is the prompt of weights -beta and noise -eps, as likely as the clean one. A
// model that regresses in context flips its prediction; one that ignores the context does not. Annotation:
// position "query" (the last token).
#include "ops/ops.h"
#include "tasks/icl_linreg/icl_linreg_task.h"

namespace mechlab {

void IclLinregTask::annotate(Batch& batch) const {
  const int64_t R = batch.inputs.dim(0), B = batch.inputs.dim(1), T = batch.inputs.dim(2);
  batch.annotations.positions["query"] =
      Tensor::from_vector<int32_t>({R, B}, std::vector<int32_t>(R * B, static_cast<int32_t>(T - 1)));
}

ContrastBatch IclLinregTask::contrast_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size,
                                           const std::string& /*kind: one*/) const {
  Batch clean = sample(replicas, batch_size, RandomStream::analysis, 0);
  annotate(clean);
  const int64_t R = clean.inputs.dim(0), B = clean.inputs.dim(1), T = clean.inputs.dim(2), W = clean.inputs.dim(3);
  const int64_t K = sampler_.outputs();
  std::vector<float> inputs = clean.inputs.to_vector<float>(), targets = clean.targets.to_vector<float>();
  for (int64_t row = 0; row < R * B * T; ++row)
    for (int64_t k = 0; k < K; ++k) inputs[row * W + d_ + k] = -inputs[row * W + d_ + k];
  for (float& y : targets) y = -y;
  Batch corrupted{Tensor::from_vector<float>(clean.inputs.shape(), inputs), Tensor::from_vector<float>(clean.targets.shape(), targets),
                  clean.loss_mask, clean.annotations};
  return {clean, corrupted, "every y of the prompt negated (weights -beta, noise -eps)"};
}

std::vector<AnalysisMetric> IclLinregTask::analysis_metrics() const {
  std::vector<AnalysisMetric> metrics{
      {"prediction", MetricKind::output, "query", "", "", 0, "the model's prediction of y_q (output 0) at the query", ""}};
  if (sampler_.outputs() == 2)
    metrics.push_back({"prediction_2", MetricKind::output, "query", "", "", 1, "the prediction of the second output", ""});
  metrics.push_back({"loss", MetricKind::loss, "", "", "", 0, "squared error at the query against the clean y_q", ""});
  return metrics;
}

}  // namespace mechlab
