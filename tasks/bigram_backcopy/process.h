// The Bigram-Backcopy data process (Guo et al. 2024, studies.md section 1): character bigrams of tiny
// Shakespeare, except that after a trigger character the token before the trigger is copied back.
// Pure and stateless: any sequence is a function of (Philox key, sequence index), so batches can be drawn
// in parallel and reproduced in any order.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "random/philox.h"

namespace mechlab {

class BigramBackcopyProcess {
 public:
  // Triggers are the n_triggers most frequent characters; throws std::invalid_argument unless
  // 0 <= n_triggers < 65 (at least one character must remain to start a sequence with).
  explicit BigramBackcopyProcess(int n_triggers = 3);

  // Token ids: 0..64 are the characters in byte order, then BOS.
  int bos() const { return n_characters_; }
  int vocab_size() const { return n_characters_ + 1; }
  char character(int token) const;        // throws std::out_of_range for BOS and non-tokens
  std::string token_text(int token) const;  // the character itself, "<s>" for BOS

  // The trigger tokens, most frequent first (ties by lower id).
  const std::vector<int>& triggers() const { return triggers_; }
  bool is_trigger(int token) const { return token >= 0 && token < vocab_size() && is_trigger_[token]; }

  // Writes `length` tokens of sequence `sequence_index` (ask for T + 1 and split into inputs x[0:T] and
  // targets x[1:T+1]): x_0 = BOS; x_1 ~ unigram over non-triggers; then after a trigger x_{i+1} = x_{i-1},
  // otherwise x_{i+1} ~ P(. | x_i). Token i+1 is drawn from rng.uniform53(sequence_index * length + i).
  void sample(const Philox& rng, uint64_t sequence_index, int64_t length, int32_t* out) const;

  // Entropy (nats) of what follows `token` at a position the process draws: the restricted unigram after
  // BOS, P(. | token) after a non-trigger, 0 after a trigger (the copy is deterministic). This is the
  // cross-entropy of the oracle predictor at a position whose input is `token`.
  double next_token_entropy(int token) const;

  // The oracle's expected bigram loss: the mean of next_token_entropy over all bigram positions (inputs that
  // are BOS or non-trigger characters, position 0 included) of the inputs x[0:seq_len], as a batch loss
  // averages them. Computed exactly by propagating the token distribution position by position (O(seq_len
  // * 65^2)), not by sampling. It depends on seq_len: position 0 is costlier (3.415 nats), and the chain
  // is not ergodic. '3' is always followed by ' ' in the text, so with ' ' a trigger, "3 3 3 ..." repeats
  // forever once a '3' is drawn (only after '\n'); 0.8% of 256-token sequences fall in, and the value
  // drifts to 0 as seq_len grows.
  double oracle_bigram_entropy(int64_t seq_len) const;
  // The floor the study quotes (~2.23 nats): oracle_bigram_entropy(256), at the paper's sequence length.
  // Not a true stationary value (that would be 0, see above); the name follows the study's wording.
  double stationary_bigram_entropy() const { return oracle_bigram_entropy(256); }

 private:
  int n_characters_;
  std::vector<int> triggers_;
  std::vector<char> is_trigger_;      // (vocab_size,) 0 or 1
  std::vector<double> first_cdf_;     // (65,) cumulative restricted unigram, drawn for x_1
  std::vector<double> bigram_cdf_;    // (65, 65) cumulative P(next | prev), row-major
  std::vector<double> entropy_;       // (vocab_size,) next_token_entropy
};

}  // namespace mechlab
