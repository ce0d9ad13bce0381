// IOI's contrast batches and mean-ablation reference: the clean prompts (RandomStream::analysis, the evaluation
// split) and the same templates, orders, places and objects with other names. abc: three new names (Wang et al.'s
// p_ABC, the reference for mean ablation); s2_flip: IO's name at S2, so the name said twice is IO and the answer
// turns to S; io_swap: IO and S exchange names, so the answer is the old S. Annotations are the clean prompts'.
#include <stdexcept>

#include "tasks/ioi/ioi_task.h"

namespace mechlab {

namespace {
// Prompt names of the corruption `kind` for a clean prompt, drawing new names from `rng` at `draw`.
PromptNames corrupted_names(const IoiPrompts& prompts, const IoiPrompt& p, const std::string& kind, const Philox& rng,
                            uint64_t draw) {
  const int io = prompts.name_index(p.io), s = prompts.name_index(p.s);
  if (kind == "s2_flip") return {io, s, io};
  if (kind == "io_swap") return {s, io, io};
  if (kind != "abc") throw std::invalid_argument("ioi: unknown contrast '" + kind + "'");
  const int a = prompts.other_name(rng, draw, {io, s});
  const int b = prompts.other_name(rng, draw + 1, {io, s, a});
  const int c = prompts.other_name(rng, draw + 2, {io, s, a, b});
  return {a, b, c};
}

}  // namespace

ContrastBatch IoiTask::contrast_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size,
                                      const std::string& kind) const {
  const std::string chosen = kind.empty() ? "abc" : kind;
  const int64_t R = static_cast<int64_t>(replicas.size()), B = batch_size;
  std::vector<IoiPrompt> clean, corrupted;
  for (int64_t r = 0; r < R; ++r) {
    const Philox names(replicas[r], RandomStream::analysis, 2);  // step 1 is the reference batch's
    for (int64_t b = 0; b < B; ++b) {
      clean.push_back(prompt_at(replicas[r], RandomStream::analysis, 0, b));
      corrupted.push_back(prompts_.rewrite(clean.back(), corrupted_names(prompts_, clean.back(), chosen, names,
                                                                         static_cast<uint64_t>(b) * 4)));
    }
  }
  ContrastBatch out{batch_of(clean, R, B), batch_of(corrupted, R, B), ""};
  out.corrupted.annotations = out.clean.annotations;
  out.description = chosen == "abc"       ? "ABC: the names replaced by three new ones"
                    : chosen == "s2_flip" ? "S2-flip: IO's name said at S2, so the answer turns to S"
                                          : "IO-swap: IO and S exchange names, so the answer is the old S";
  return out;
}

Batch IoiTask::reference_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size) const {
  const int64_t R = static_cast<int64_t>(replicas.size()), B = batch_size;
  std::vector<IoiPrompt> abc;
  for (int64_t r = 0; r < R; ++r) {
    const Philox names(replicas[r], RandomStream::analysis, 3);
    for (int64_t b = 0; b < B; ++b) {
      const IoiPrompt p = prompt_at(replicas[r], RandomStream::analysis, 1, b);
      abc.push_back(prompts_.rewrite(p, corrupted_names(prompts_, p, "abc", names, static_cast<uint64_t>(b) * 4)));
    }
  }
  return batch_of(abc, R, B);
}

}  // namespace mechlab
