// Bigram-Backcopy (Guo et al. 2024, studies.md section 1): next-character prediction on sequences that
// follow Shakespeare's bigram statistics, except that after a trigger character the previous character
// is copied. A one-layer model learns the copy with an attention head that is active on triggers and
// parks its attention on BOS (the attention sink) everywhere else.
#pragma once
#include "config/schema.h"
#include "task/task.h"
#include "tasks/bigram_backcopy/process.h"

namespace mechlab {

class BigramBackcopyTask final : public Task {
 public:
  explicit BigramBackcopyTask(const nlohmann::json& options);
  static Schema options();

  void adapt_model(nlohmann::json& model) const override;
  int64_t sequence_length() const override { return seq_len_; }
  std::string sequence_length_key() const override { return "task.seq_len"; }
  // The forward pass, every layer's pattern and scores kept, and one more pass per intervention.
  double evaluation_bytes(const TransformerConfig& model, double sequences) const override;
  std::vector<MemoryPart> analysis_memory(const TransformerConfig& model, int64_t replicas) const override;
  Batch sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
               uint32_t step) const override;
  // eval_loss; loss_bigram and loss_backcopy (positions i >= 1 whose input is not / is a trigger);
  // oracle_bigram_entropy (the floor of loss_bigram, the same positions); loss_first (position 0, which
  // predicts x_1 from BOS: a restricted unigram with entropy 3.4, kept apart as the reference run does);
  // per layer l and head h ("L0H0"):
  // bos_attn_nontrigger / bos_attn_trigger (mean attention on position 0 from queries i >= 1 whose input
  // is not / is a trigger), prev_attn_trigger (trigger queries' attention on i - 1), value_norm_bos and
  // value_norm_median (||W_O v|| at BOS and the median over other positions); per layer ("L0"):
  // resid_norm_bos and resid_norm_median (||h|| after the layer); per head bos_logit_gap_nontrigger /
  // _trigger (the BOS attention logit minus the mean logit of the other visible keys, by query type).
  // With task.interventions, the split losses again under each intervention of interventions.h, named
  // e.g. loss_backcopy.zero_head.L0H0, loss_bigram.zero_mlp.L0, loss_bigram.zero_bos_value.L0.
  EvaluationTensors evaluation_tensors(const Transformer& model, const Batch& batch) const override;
  std::vector<Metrics> summarize(const EvaluationTensors& host_tensors, const Batch& batch) const override;
  // Clean sequences with a copy to make and the same sequences with the copied token changed
  // (tasks/bigram_backcopy/contrast.cpp); metrics logit_diff, answer_loss, accuracy at the trigger, and loss.
  ContrastBatch contrast_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size,
                               const std::string& kind) const override;
  std::vector<AnalysisMetric> analysis_metrics() const override;
  void annotate(Batch& batch) const override;
  // The 65 characters in id order, then "<s>".
  nlohmann::json vocabulary() const override;
  // active_dormant.csv / .npy (active_dormant.h) beside each probe dump.
  void write_dump_analyses(const Transformer& model, const std::vector<std::filesystem::path>& dump_dirs) const override;

  const BigramBackcopyProcess& process() const { return process_; }

 private:
  int64_t seq_len_;
  bool bos_;
  bool interventions_;
  BigramBackcopyProcess process_;
  // The (T, T) mask with ones at (i, i - 1) that picks each query's attention on the previous position out of
  // the pattern on the device, built at the first evaluation (an eager one) so that a recorded evaluation
  // copies nothing from the host.
  mutable Tensor previous_position_mask_;
};

}  // namespace mechlab
