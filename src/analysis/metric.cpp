#include "analysis/metric.h"

#include <fmt/format.h>

#include <stdexcept>

#include "config/config_error.h"
#include "config/value_check.h"
#include "ops/ops.h"
#include "train/training_loss.h"

namespace mechlab {

namespace {
// (R, B) indices -> one-hot (R, B, n) in `like`'s dtype and device: rows of an identity looked up on the
// device, so a slot pass of many examples copies only their indices there.
Tensor one_hot(const Tensor& indices, int64_t n, const Tensor& like) {
  return embedding(identity_tables(indices.dim(0), n, like.dtype(), like.device()), indices.to(like.device()));
}

// outputs (R, B, T, W) at each example's position of `role` -> (R, B, W).
Tensor at_position(const Tensor& outputs, const Batch& batch, const std::string& position) {
  const int64_t R = outputs.dim(0), B = outputs.dim(1), T = outputs.dim(2);
  const Tensor select = reshape(one_hot(batch.annotations.position(position), T, outputs), {R, B, T, 1});
  return sum(mul(outputs, select), {2});
}
}  // namespace

ExampleMetric example_metric(const AnalysisMetric& m, const Tensor& outputs, const Batch& batch,
                             const TransformerConfig& config) {
  const int64_t R = outputs.dim(0), B = outputs.dim(1);
  const Tensor ones = Tensor::full({R, B}, 1.0, outputs.dtype(), outputs.device());
  if (m.kind == MetricKind::loss) {
    Batch scored = batch;
    if (!m.mask.empty()) scored.loss_mask = batch.annotations.mask(m.mask).to(outputs.device());
    if (!scored.loss_mask.defined()) return {example_losses(outputs, scored, config), ones};
    const Tensor mask = scored.loss_mask.to(outputs.dtype());  // (R, B, T)
    const Tensor counts = sum(mask, {2});
    return {mul(example_losses(outputs, scored, config), counts), counts};
  }
  const ExampleMetric at = example_metric_at(m, at_position(outputs, batch, m.position), batch);
  if (m.mask.empty()) return at;
  const Tensor counted = sum(batch.annotations.mask(m.mask).to(outputs.dtype()).to(outputs.device()), {2});  // (R, B)
  return {mul(at.total, counted), mul(at.weight, counted)};
}

ExampleMetric example_metric_at(const AnalysisMetric& m, const Tensor& picked, const Batch& batch) {
  const int64_t R = picked.dim(0), B = picked.dim(1), W = picked.dim(2);
  const Tensor ones = Tensor::full({R, B}, 1.0, picked.dtype(), picked.device());
  switch (m.kind) {
    case MetricKind::output: return {reshape(slice(picked, 2, m.channel, m.channel + 1), {R, B}), ones};
    case MetricKind::logit_diff: {
      const Tensor sign = sub(one_hot(batch.annotations.token(m.answer), W, picked),
                              one_hot(batch.annotations.token(m.wrong), W, picked));
      return {sum(mul(picked, sign), {2}), ones};
    }
    case MetricKind::logit: return {sum(mul(picked, one_hot(batch.annotations.token(m.answer), W, picked)), {2}), ones};
    case MetricKind::answer_loss: {
      const Tensor answer = batch.annotations.token(m.answer).to(picked.device());
      return {reshape(token_cross_entropy(reshape(picked, {R, B, 1, W}), reshape(answer, {R, B, 1})), {R, B}), ones};
    }
    case MetricKind::accuracy: {
      const std::vector<double> logits = picked.to_vector<double>();
      const std::vector<int32_t> answer = batch.annotations.token(m.answer).to_vector<int32_t>();
      // Against one token: the answer's logit above the wrong token's; else the answer the top logit.
      const std::vector<int32_t> wrong =
          m.wrong.empty() ? std::vector<int32_t>{} : batch.annotations.token(m.wrong).to_vector<int32_t>();
      std::vector<double> correct(R * B, 0.0);
      for (int64_t e = 0; e < R * B; ++e) {
        if (!wrong.empty()) {
          correct[e] = logits[e * W + answer[e]] > logits[e * W + wrong[e]] ? 1.0 : 0.0;
          continue;
        }
        int64_t best = 0;
        for (int64_t v = 1; v < W; ++v)
          if (logits[e * W + v] > logits[e * W + best]) best = v;
        correct[e] = best == answer[e] ? 1.0 : 0.0;
      }
      return {Tensor::from_vector<double>({R, B}, correct).to(picked.dtype()).to(picked.device()), ones};
    }
    case MetricKind::loss: break;
  }
  throw std::logic_error("example_metric: unknown metric kind");
}

Tensor batch_metric(const ExampleMetric& m) { return div(sum(m.total, {1}), sum(m.weight, {1})); }

Tensor slot_metric(const ExampleMetric& m, int64_t slots) {
  const int64_t R = m.total.dim(0), B = m.total.dim(1) / slots;
  const Tensor totals = sum(reshape(m.total, {R, slots, B}), {2}), weights = sum(reshape(m.weight, {R, slots, B}), {2});
  return div(totals, weights);
}

std::vector<double> slot_values(const ExampleMetric& m, int64_t slots) { return slot_metric(m, slots).to_vector<double>(); }

const AnalysisMetric& find_metric(const std::vector<AnalysisMetric>& metrics, const std::string& name,
                                  const std::string& json_path) {
  std::vector<std::string> names;
  for (const AnalysisMetric& m : metrics) {
    if (m.name == name) return m;
    names.push_back(m.name);
  }
  throw ConfigError(json_path, metrics.empty() ? "this task offers no analysis metrics"
                                               : fmt::format("the task has no metric '{}'; its metrics: {}", name,
                                                             config_detail::joined(names)));
}

}  // namespace mechlab
