// Bigram-Backcopy's contrast batches: a clean sequence whose last trigger at i >= 2 copies the character
// x_{i-1} (the answer at position i), and the same sequence with x_{i-1} replaced by another non-trigger
// character (the wrong answer), so the copy now predicts a different token. Annotations: positions
// "trigger" (i) and "copied" (i - 1), tokens "answer" and "wrong"; on every batch, the masks "bigram" and
// "backcopy" (positions i >= 1 whose input is not / is a trigger, the study's split losses).
#include <fmt/format.h>

#include "tasks/bigram_backcopy/bigram_backcopy_task.h"

namespace mechlab {

namespace {
// The last trigger position i >= 2 whose previous token is a non-trigger character, or -1.
int64_t last_copy(const BigramBackcopyProcess& process, const int32_t* x, int64_t T) {
  for (int64_t i = T - 1; i >= 2; --i)
    if (process.is_trigger(x[i]) && x[i - 1] != process.bos() && !process.is_trigger(x[i - 1])) return i;
  return -1;
}
}  // namespace

ContrastBatch BigramBackcopyTask::contrast_batch(const std::vector<ReplicaKey>& replicas, int64_t batch_size,
                                                const std::string& /*kind: one*/) const {
  const int64_t R = static_cast<int64_t>(replicas.size()), T = seq_len_, B = batch_size;
  const int64_t skip = bos_ ? 0 : 1;
  std::vector<int> characters;  // the replacements: non-trigger characters
  for (int token = 0; token < process_.vocab_size(); ++token)
    if (token != process_.bos() && !process_.is_trigger(token)) characters.push_back(token);
  std::vector<int32_t> clean(R * B * T), corrupted(R * B * T), clean_targets(R * B * T), corrupted_targets(R * B * T);
  std::vector<int32_t> trigger(R * B), copied(R * B), answer(R * B), wrong(R * B);
  std::vector<int32_t> sequence(T + 1 + skip);
  for (int64_t r = 0; r < R; ++r) {
    const Philox rng(replicas[r], RandomStream::analysis, 0);
    const Philox replacements(replicas[r], RandomStream::analysis, 2);  // step 1 is the reference batch's
    uint64_t index = 0;  // sequences without a copy to make are passed over (rare at T >= 16)
    for (int64_t b = 0; b < B; ++b) {
      int64_t i = -1;
      for (uint64_t tries = 0; i < 0; ++tries, ++index) {
        if (tries == 10000)
          throw std::invalid_argument(fmt::format("bigram_backcopy: no sequence of {} tokens with a copy to make in "
                                                  "10000 draws; raise task.seq_len",
                                                  T));
        process_.sample(rng, index, T + 1 + skip, sequence.data());
        i = last_copy(process_, sequence.data() + skip, T);
      }
      const int32_t* x = sequence.data() + skip;  // inputs x[0:T], targets x[1:T+1]
      const int64_t row = (r * B + b) * T, example = r * B + b;
      const int32_t original = x[i - 1];
      // Another non-trigger character, uniformly.
      int32_t replacement = original;
      for (uint64_t k = 0; replacement == original; ++k)
        replacement = characters[static_cast<size_t>(replacements.uniform53(static_cast<uint64_t>(example) * 64 + k) *
                                                     characters.size())];
      for (int64_t t = 0; t < T; ++t) {
        clean[row + t] = corrupted[row + t] = x[t];
        clean_targets[row + t] = corrupted_targets[row + t] = x[t + 1];
      }
      corrupted[row + i - 1] = replacement;
      corrupted_targets[row + i - 2] = replacement;  // x_{i-1} is the target of position i - 2
      corrupted_targets[row + i] = replacement;      // and what the copy at i predicts
      trigger[example] = static_cast<int32_t>(i);
      copied[example] = static_cast<int32_t>(i - 1);
      answer[example] = original;
      wrong[example] = replacement;
    }
  }
  Annotations notes;
  notes.positions = {{"trigger", Tensor::from_vector<int32_t>({R, B}, trigger)},
                     {"copied", Tensor::from_vector<int32_t>({R, B}, copied)}};
  notes.tokens = {{"answer", Tensor::from_vector<int32_t>({R, B}, answer)},
                  {"wrong", Tensor::from_vector<int32_t>({R, B}, wrong)}};
  auto batch = [&](const std::vector<int32_t>& inputs, const std::vector<int32_t>& targets) {
    return Batch{Tensor::from_vector<int32_t>({R, B, T}, inputs), Tensor::from_vector<int32_t>({R, B, T}, targets),
                 Tensor(), notes};
  };
  ContrastBatch pair{batch(clean, clean_targets), batch(corrupted, corrupted_targets), ""};
  annotate(pair.clean);
  pair.corrupted.annotations.masks = pair.clean.annotations.masks;  // positions scored as in the clean sequence
  pair.description =
      "the character before the last trigger (position 'copied') replaced by another non-trigger character";
  return pair;
}

void BigramBackcopyTask::annotate(Batch& batch) const {
  const int64_t R = batch.inputs.dim(0), B = batch.inputs.dim(1), T = batch.inputs.dim(2);
  const std::vector<int32_t> tokens = batch.inputs.to(Device::cpu).to_vector<int32_t>();
  std::vector<float> bigram(tokens.size(), 0.0f), backcopy(tokens.size(), 0.0f);
  for (size_t i = 0; i < tokens.size(); ++i)
    if (i % T != 0) (process_.is_trigger(tokens[i]) ? backcopy : bigram)[i] = 1.0f;
  batch.annotations.masks["bigram"] = Tensor::from_vector<float>({R, B, T}, bigram);
  batch.annotations.masks["backcopy"] = Tensor::from_vector<float>({R, B, T}, backcopy);
}

std::vector<AnalysisMetric> BigramBackcopyTask::analysis_metrics() const {
  return {
      {"logit_diff", MetricKind::logit_diff, "trigger", "answer", "wrong", 0,
       "logit of the clean copy minus logit of the corrupted one, at the trigger", ""},
      {"answer_loss", MetricKind::answer_loss, "trigger", "answer", "", 0, "cross-entropy of the clean copy at the trigger", ""},
      {"accuracy", MetricKind::accuracy, "trigger", "answer", "", 0, "the clean copy is the top prediction at the trigger", ""},
      {"loss", MetricKind::loss, "", "", "", 0, "next-token cross-entropy over every position, clean targets", ""},
      {"loss_bigram", MetricKind::loss, "", "", "", 0, "cross-entropy at positions i >= 1 whose input is not a trigger", "bigram"},
      {"loss_backcopy", MetricKind::loss, "", "", "", 0, "cross-entropy at positions i >= 1 whose input is a trigger", "backcopy"},
  };
}

}  // namespace mechlab
