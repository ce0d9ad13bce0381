// Multi-step variable retrieval (Musat 2025, studies.md section 3): the model reads shuffled assignments of
// n_chains chains and a query, and predicts the value the queried variable resolves to, k hops away. Two
// layouts: pair tokens (each assignment one position, the embedding E_lhs[lhs] + E_rhs[rhs]: the ids of lhs and
// rhs in one range, model.input token_pairs, so W_in = [E_lhs; E_rhs]) and triple tokens (lhs, '=', rhs as three token positions, the query '?', v_k).
#pragma once
#include "config/schema.h"
#include "task/task.h"
#include "tasks/retrieval/chains.h"
#include "tasks/retrieval/depth_schedule.h"
#include "tasks/retrieval/hop_scores.h"

namespace mechlab {

class RetrievalTask final : public Task {
 public:
  explicit RetrievalTask(const nlohmann::json& options);
  static Schema options();

  // Pair tokens: two ids per position, lhs in [0, variables] (variables: '?') and variables + 1 + rhs (rhs:
  // a variable, or variables + value), through W_in of (variables + 1) + (variables + values) rows; logits over
  // the values. Triple tokens: token input and logits over variables, values, '=' and '?'.
  void adapt_model(nlohmann::json& model) const override;
  int64_t sequence_length() const override;
  std::string sequence_length_key() const override { return "task.steps"; }
  // Training batches: the query depths task.query_depth (and task.depth_schedule) say at the step, from fresh
  // examples or the finite set (task.data); evaluation batches (eval_data): fresh examples, depths uniform over
  // 1 .. D, so every depth is measured whatever the curriculum. Targets: the chain's value at the query (and with task.target dense at
  // every assignment, its chain's value).
  Batch sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
               uint32_t step) const override;
  Tensor loss_mask_for(const Tensor& inputs) const override;
  // eval_loss and accuracy at the query, and accuracy.depth<k> for k = 1 .. D (chance: 1 / values). With the
  // dense target also assignment_accuracy.depth<k>: at the assignments of v_k, k hops from their value (Lutz's
  // depth of a variable; it takes k - 1 lookups, one fewer than the query of depth k).
  // Both through training, with the hop scores of hop_scores.h.
  EvaluationTensors evaluation_tensors(const Transformer& model, const Batch& batch) const override;
  std::vector<Metrics> summarize(const EvaluationTensors& host_tensors, const Batch& batch) const override;
  // Position "query"; token "answer" (the value); masks depth<k> (the queries k hops deep); metrics answer_loss,
  // accuracy, loss, and accuracy.depth<k>, answer_loss.depth<k> over the queries of one depth.
  std::vector<AnalysisMetric> analysis_metrics() const override;
  void annotate(Batch& batch) const override;
  nlohmann::json vocabulary() const override;
  // The one-hot variables of a batch's assignments and query, on the batch's device (hop_scores.h).
  ChainPointers chain_pointers(const Tensor& inputs) const;

 private:
  bool pairs() const { return pair_layout_; }
  // Token ids of the triple layout: variables, then values, then '=' and '?'.
  int value_token(int value) const { return pairs() ? value : shape_.variables + value; }
  int output_width() const { return pairs() ? shape_.values : shape_.variables + shape_.values + 2; }
  // assignment_accuracy.depth<k> of one replica from its logits at the assignments (R, B, n, output width) and
  // the batch's targets (R, B, T).
  void add_assignment_accuracy(const Tensor& assignment_logits, const std::vector<int32_t>& targets,
                               const std::vector<ReadExample>& examples, int64_t replica, Metrics& metrics) const;
  // Every example of a batch, read back from its inputs (R, B, T[, 2]), replica-major.
  std::vector<ReadExample> read_examples(const Tensor& inputs) const;
  int pair_width() const { return (shape_.variables + 1) + (shape_.variables + shape_.values); }

  ChainShape shape_;
  bool pair_layout_ = true;
  std::vector<DepthStage> depth_stages_;  // the training queries' depths through training
  bool dense_ = false;
  int64_t examples_ = 0;       // 0: fresh examples every step
  // The one-hot table (R, K, K) that turns ids into rows on the device, built at the first
  // evaluation (an eager one) so that a recorded evaluation copies nothing from the host.
  mutable Tensor one_hot_table_;
};

}  // namespace mechlab
