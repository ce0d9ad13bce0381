// In-context linear regression (He et al. 2025, studies.md section 2): the model reads L pairs [x_l; y_l] and
// a query [x_q; 0] and predicts y_q; trained multi-head softmax attention implements debiased gradient
// descent. The model is a readout model scored by MSE on the query position only.
#pragma once
#include "config/schema.h"
#include "task/task.h"
#include "tasks/icl_linreg/length_sweep.h"
#include "tasks/icl_linreg/prompts.h"

namespace mechlab {

class IclLinregTask final : public Task {
 public:
  explicit IclLinregTask(const nlohmann::json& options);
  static Schema options();

  // Vector input of width d + 1 (fed as it is unless the config adds W_in), a readout of width 1.
  void adapt_model(nlohmann::json& model) const override;
  int64_t sequence_length() const override { return prompt_length_ + 1; }
  // 1 at the query (the last position), 0 elsewhere, as the batches it samples carry.
  Tensor loss_mask_for(const Tensor& inputs) const override;
  std::string sequence_length_key() const override { return "task.prompt_length"; }
  // The length sweep beside each dump: its prompts on the host and a forward pass of 1000 of them.
  std::vector<MemoryPart> analysis_memory(const TransformerConfig& model, int64_t replicas) const override;
  // Inputs (R, B, L + 1, d + 1): the pairs, then [x_q; 0]. Targets (R, B, L + 1, 1) and loss mask
  // (R, B, L + 1): y_q and 1 at the query, 0 elsewhere.
  Batch sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
               uint32_t step) const override;
  // eval_mse (the model's query MSE, noise included: the floor is sigma^2) and, on the same prompts,
  // baseline_mse.ridge (lambda = sigma^2 d, Bayes optimal), .least_squares, .gd and .debiased_gd (one step,
  // with the step size fitted on these prompts; its value as gd_step / debiased_gd_step) and .kernel_head
  // (one softmax head at the single-head optimum omega = 1/sqrt(d), mu = sqrt(d) / (1 + (1 + sigma^2) d e / L)).
  EvaluationTensors evaluation_tensors(const Transformer& model, const Batch& batch) const override;
  std::vector<Metrics> summarize(const EvaluationTensors& host_tensors, const Batch& batch) const override;
  // Clean prompts and the same prompts with every y negated (the prompt of -beta and -noise, as likely as
  // the clean one; tasks/icl_linreg/contrast.cpp); metrics prediction (output 0 at the query) and loss.
  ContrastBatch contrast_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size,
                               const std::string& kind) const override;
  std::vector<AnalysisMetric> analysis_metrics() const override;
  void annotate(Batch& batch) const override;
  // mse_by_length.csv (task.eval_lengths), kq.npy and ov.npy beside each dump (length_sweep.h).
  void write_dump_analyses(const Transformer& model, const std::vector<std::filesystem::path>& dump_dirs) const override;

 private:
  int d_;
  int64_t prompt_length_;
  PromptSampler sampler_;
  LengthSweep sweep_;
};

}  // namespace mechlab
