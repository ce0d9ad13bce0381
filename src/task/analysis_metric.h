// A metric a task offers to analyses (patching, ablation, attribution), declared by what it reads: the
// model's output at the position of a role, compared with the tokens of roles (analysis/metric.h evaluates
// it). One value per example; analyses average over the batch.
#pragma once
#include <string>

namespace mechlab {

enum class MetricKind {
  logit_diff,   // logit of `answer` minus logit of `wrong` at `position` (tokens)
  logit,        // logit of `answer` at `position` (tokens): one side of a logit difference
  answer_loss,  // cross-entropy of `answer` at `position` (tokens)
  accuracy,     // 1 when `answer` has the largest logit at `position`, or with `wrong` a larger one than it (tokens;
                // not differentiable)
  output,       // output channel `channel` at `position` (readout models)
  loss,         // the task's training loss against the clean targets (train/training_loss.h), over the
                // positions of the `mask` role when given; pooled over the batch's positions, as training does
};

struct AnalysisMetric {
  std::string name;         // what specs call it: "logit_diff"
  MetricKind kind = MetricKind::loss;
  std::string position;     // role in Annotations::positions (not for loss)
  std::string answer;       // role in Annotations::tokens (logit_diff, logit, answer_loss, accuracy)
  std::string wrong;        // role in Annotations::tokens (logit_diff; accuracy against one token)
  int channel = 0;          // output
  std::string description;  // one line for docs and error messages
  // Role in Annotations::masks. loss: the positions scored (empty: the batch's loss mask); the others: the
  // examples counted, those with any position in the mask (empty: all), e.g. the queries of one depth.
  std::string mask;
};

}  // namespace mechlab
