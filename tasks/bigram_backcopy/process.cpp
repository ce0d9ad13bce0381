// Bigram-Backcopy sampling by inverse CDF and the oracle's entropies; see process.h.
#include "tasks/bigram_backcopy/process.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "tasks/bigram_backcopy/tables.h"

namespace mechlab {

namespace {

// Running sums of `probabilities`, divided by their total. From the last positive entry on the table is
// exactly 1.0, so a uniform in [0, 1) always lands on a positive-probability entry: upper_bound skips
// zero-probability entries because their cumulative value equals their predecessor's.
std::vector<double> cumulative(const std::vector<double>& probabilities) {
  std::vector<double> cdf(probabilities.size());
  std::partial_sum(probabilities.begin(), probabilities.end(), cdf.begin());
  const double total = cdf.back();
  for (double& c : cdf) c /= total;
  size_t last_positive = probabilities.size() - 1;
  while (last_positive > 0 && probabilities[last_positive] == 0.0) --last_positive;
  std::fill(cdf.begin() + last_positive, cdf.end(), 1.0);
  return cdf;
}

int32_t draw(const double* cdf, int n, double u) {
  return static_cast<int32_t>(std::upper_bound(cdf, cdf + n, u) - cdf);
}

double entropy(const std::vector<double>& probabilities) {
  const double total = std::accumulate(probabilities.begin(), probabilities.end(), 0.0);
  double h = 0.0;
  for (double p : probabilities)
    if (p > 0.0) h -= p / total * std::log(p / total);
  return h;
}

}  // namespace

BigramBackcopyProcess::BigramBackcopyProcess(int n_triggers) {
  const BigramTables& tables = bigram_tables();
  n_characters_ = static_cast<int>(tables.vocab.size());
  if (n_triggers < 0 || n_triggers >= n_characters_)
    throw std::invalid_argument("bigram_backcopy: n_triggers must be in [0, " + std::to_string(n_characters_ - 1) +
                                "], got " + std::to_string(n_triggers));

  std::vector<int> by_frequency(n_characters_);
  std::iota(by_frequency.begin(), by_frequency.end(), 0);
  std::stable_sort(by_frequency.begin(), by_frequency.end(),
                   [&](int a, int b) { return tables.unigram[a] > tables.unigram[b]; });
  triggers_.assign(by_frequency.begin(), by_frequency.begin() + n_triggers);
  is_trigger_.assign(vocab_size(), 0);
  for (int t : triggers_) is_trigger_[t] = 1;

  // x_1 must not be a trigger: a trigger there would have only BOS to copy back.
  std::vector<double> first = tables.unigram;
  for (int t : triggers_) first[t] = 0.0;
  first_cdf_ = cumulative(first);
  for (const auto& row : tables.bigram) {
    const auto cdf = cumulative(row);
    bigram_cdf_.insert(bigram_cdf_.end(), cdf.begin(), cdf.end());
  }

  entropy_.assign(vocab_size(), 0.0);
  for (int c = 0; c < n_characters_; ++c)
    if (!is_trigger_[c]) entropy_[c] = entropy(tables.bigram[c]);
  entropy_[bos()] = entropy(first);
}

char BigramBackcopyProcess::character(int token) const {
  if (token < 0 || token >= n_characters_)
    throw std::out_of_range("bigram_backcopy: token " + std::to_string(token) + " is not a character");
  return bigram_tables().vocab[token];
}

std::string BigramBackcopyProcess::token_text(int token) const {
  return token == bos() ? std::string("<s>") : std::string(1, character(token));
}

void BigramBackcopyProcess::sample(const Philox& rng, uint64_t sequence_index, int64_t length, int32_t* out) const {
  if (length <= 0) return;
  // Sequence s owns the counter range [s * length, (s + 1) * length): sequences never share draws.
  const uint64_t base = sequence_index * static_cast<uint64_t>(length);
  out[0] = bos();
  if (length == 1) return;
  out[1] = draw(first_cdf_.data(), n_characters_, rng.uniform53(base));
  for (int64_t i = 1; i + 1 < length; ++i) {
    const int32_t current = out[i];
    // Triggers are never adjacent (a trigger is always drawn after a non-trigger and followed by a copy of
    // it), so the copied token is always a character, never BOS or another trigger.
    out[i + 1] = is_trigger_[current]
                     ? out[i - 1]
                     : draw(&bigram_cdf_[static_cast<size_t>(current) * n_characters_], n_characters_,
                            rng.uniform53(base + i));
  }
}

double BigramBackcopyProcess::next_token_entropy(int token) const {
  if (token < 0 || token >= vocab_size())
    throw std::out_of_range("bigram_backcopy: token " + std::to_string(token) + " is out of range");
  return entropy_[token];
}

double BigramBackcopyProcess::oracle_bigram_entropy(int64_t seq_len) const {
  if (seq_len <= 0) throw std::invalid_argument("bigram_backcopy: seq_len must be positive");
  const BigramTables& tables = bigram_tables();
  const int v = n_characters_;
  // at[c] = P(x_t = c) for non-trigger c; before[c] = P(x_{t-1} = c). A non-trigger at t comes either from
  // a bigram draw out of x_{t-1}, or as the copy after a trigger at t-1, which was drawn out of it at t-2.
  std::vector<double> at(v), before(v, 0.0), next(v);
  for (int c = 0; c < v; ++c) at[c] = is_trigger_[c] ? 0.0 : tables.unigram[c];
  const double first_total = std::accumulate(at.begin(), at.end(), 0.0);
  for (double& p : at) p /= first_total;

  double entropy_sum = entropy_[bos()], positions = 1.0;  // position 0, BOS
  for (int64_t t = 1; t < seq_len; ++t) {
    for (int c = 0; c < v; ++c) {
      entropy_sum += at[c] * entropy_[c];
      positions += at[c];
    }
    for (int n = 0; n < v; ++n) {
      if (is_trigger_[n]) {
        next[n] = 0.0;
        continue;
      }
      double p = 0.0;
      for (int c = 0; c < v; ++c) p += at[c] * tables.bigram[c][n];
      double p_trigger = 0.0;  // P(x_{t-1} = n, x_t is a trigger) = P(x_{t-1} = n) P(trigger | n)
      for (int trigger : triggers_) p_trigger += tables.bigram[n][trigger];
      next[n] = p + before[n] * p_trigger;
    }
    before = at;
    at.swap(next);
  }
  return entropy_sum / positions;
}

}  // namespace mechlab
