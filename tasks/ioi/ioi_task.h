// Indirect object identification (Wang et al. 2022; studies.md section 4) in models trained from scratch: the
// prompt names two people, one of them twice (S), and the model must say the other (IO) at the last position
// (END). Presets `symbolic` (Adhikari 2025: "<s> A B B <mid>" -> A over 6 names, all 60 sequences) and
// `templates` (sentence templates in ABBA and BABA order, held-out name pairs for evaluation). Contrast batches:
// ABC, S2-flip and IO-swap prompts (tasks/ioi/contrast.cpp).
#pragma once
#include "config/schema.h"
#include "task/task.h"
#include "tasks/ioi/prompts.h"

namespace mechlab {

class IoiTask final : public Task {
 public:
  explicit IoiTask(const nlohmann::json& options);
  static Schema options();

  void adapt_model(nlohmann::json& model) const override;
  int64_t sequence_length() const override { return prompts_.sequence_length(); }
  std::string sequence_length_key() const override { return "task.preset"; }
  // Token prompts (R, B, T); targets IO at END (and, with task.loss full, the next token everywhere before);
  // annotations: positions io, s1, s2, s1+1, end, tokens io, s, labels template and abba. Training: symbolic cycles through the 60
  // sequences in a new order each epoch; templates draws prompts from the training name pairs. Evaluation and
  // analysis: symbolic's 60 sequences in order, templates' held-out name pairs.
  Batch sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
               uint32_t step) const override;
  Tensor loss_mask_for(const Tensor& inputs) const override;
  // At END: eval_loss, accuracy (IO above S; also accuracy.abba, .baba and .template<k>), top1_names (IO the
  // largest name logit), logit_diff (its mean) and
  // logit_diff.p10 / .p50 / .p90; per head, the attention between role positions: attn_s2_s1, attn_s2_s1p1,
  // attn_s1p1_s1, attn_end_s2, attn_end_io, attn_end_s (S1 and S2 together), e.g. attn_end_io.L1H0.
  EvaluationTensors evaluation_tensors(const Transformer& model, const Batch& batch) const override;
  std::vector<Metrics> summarize(const EvaluationTensors& host_tensors, const Batch& batch) const override;
  // The clean prompts and, by `kind`: abc (three new names; the default), s2_flip (S2 becomes IO's name, so the
  // answer turns to S), io_swap (IO and S exchange names, so the answer is the old S). The mean-ablation
  // reference is ABC prompts.
  std::vector<std::string> contrast_kinds() const override { return {"abc", "s2_flip", "io_swap"}; }
  ContrastBatch contrast_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size,
                               const std::string& kind) const override;
  Batch reference_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size) const override;
  // logit_diff (IO minus S at END), answer_loss, top1 (IO the largest logit of the vocabulary), loss.
  std::vector<AnalysisMetric> analysis_metrics() const override;
  nlohmann::json vocabulary() const override;

 private:
  // A batch of the given prompts (R * B of them, replica-major), with their targets, mask and annotations.
  Batch batch_of(const std::vector<IoiPrompt>& prompts, int64_t R, int64_t B) const;
  // Prompt b of the stream's batch at `step` for one replica (all but the symbolic preset's training batches,
  // which go through epoch_order).
  IoiPrompt prompt_at(const ReplicaKey& replica, RandomStream stream, uint32_t step, int64_t b) const;
  // The symbolic preset's training order in one epoch: a permutation of its sequences.
  std::vector<uint64_t> epoch_order(const ReplicaKey& replica, uint64_t epoch) const;

  IoiPrompts prompts_;
  bool full_loss_ = false;  // the next token at every position, not only IO at END
  // The role-pair masks (R, B, 1, T, T) of `batch`, with one 1 per example, in the dtype and on the device of
  // `like` (R, B, T, ...); built once for the run's fixed evaluation batch and kept, so that a recorded CUDA
  // evaluation copies nothing from the host.
  const std::map<std::string, Tensor>& role_masks_for(const Batch& batch, const Tensor& like) const;
  mutable const void* masks_for_ = nullptr;
  mutable std::map<std::string, Tensor> role_masks_;
};

}  // namespace mechlab
