// The Bigram-Backcopy data process: the embedded tiny-Shakespeare tables, the sampling rules, transition
// frequencies against the bigram table, reproducibility by key, and the oracle entropies.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

#include "random/philox.h"
#include "subprocess.h"
#include "tasks/bigram_backcopy/process.h"
#include "tasks/bigram_backcopy/tables.h"

using namespace mechlab;

namespace {

// `n_sequences` sequences of `length` tokens, row after row.
std::vector<int32_t> sample_many(const BigramBackcopyProcess& process, const Philox& rng, int n_sequences,
                                 int64_t length) {
  std::vector<int32_t> tokens(n_sequences * length);
  for (int s = 0; s < n_sequences; ++s) process.sample(rng, s, length, &tokens[s * length]);
  return tokens;
}

int token_of(const BigramBackcopyProcess& process, char c) {
  for (int t = 0; t < process.bos(); ++t)
    if (process.character(t) == c) return t;
  return -1;
}

}  // namespace

TEST_CASE("bigram tables: tiny Shakespeare's 65 characters, normalised") {
  const BigramTables& tables = bigram_tables();
  CHECK(tables.text_bytes == 1115394);
  CHECK(tables.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed");
  REQUIRE(tables.vocab.size() == 65);
  CHECK(tables.vocab.front() == '\n');
  CHECK(tables.vocab.back() == 'z');
  CHECK(std::is_sorted(tables.vocab.begin(), tables.vocab.end()));
  double total = 0.0;
  for (double p : tables.unigram) total += p;
  CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
  REQUIRE(tables.bigram.size() == 65);
  for (const auto& row : tables.bigram) {
    double row_total = 0.0;
    for (double p : row) row_total += p;
    CHECK(row_total == doctest::Approx(1.0).epsilon(1e-12));
  }
  // '$' occurs once in the text ("a$l"): its row is deterministic. No row is empty, so none falls back.
  const auto index = [&](char c) { return std::find(tables.vocab.begin(), tables.vocab.end(), c) - tables.vocab.begin(); };
  CHECK(tables.bigram[index('$')][index('l')] == 1.0);
}

TEST_CASE("bigram-backcopy: tokens and the three triggers") {
  const BigramBackcopyProcess process;
  CHECK(process.vocab_size() == 66);
  CHECK(process.bos() == 65);
  CHECK(process.token_text(65) == "<s>");
  CHECK(process.token_text(0) == "\n");
  CHECK(process.character(13) == 'A');
  CHECK_THROWS_AS(process.character(65), std::out_of_range);

  const std::vector<int> expected{token_of(process, ' '), token_of(process, 'e'), token_of(process, 't')};
  CHECK(process.triggers() == expected);
  const auto& unigram = bigram_tables().unigram;
  CHECK(std::abs(unigram[expected[0]] - 0.152) < 0.001);
  CHECK(std::abs(unigram[expected[1]] - 0.085) < 0.001);
  CHECK(std::abs(unigram[expected[2]] - 0.060) < 0.001);
  CHECK(process.is_trigger(expected[2]));
  CHECK_FALSE(process.is_trigger(token_of(process, 'o')));  // 4th most frequent, 0.0590
  CHECK_FALSE(process.is_trigger(process.bos()));

  CHECK(BigramBackcopyProcess(0).triggers().empty());
  CHECK(BigramBackcopyProcess(64).triggers().size() == 64);
  CHECK_THROWS_AS(BigramBackcopyProcess(-1), std::invalid_argument);
  CHECK_THROWS_AS(BigramBackcopyProcess(65), std::invalid_argument);
}

TEST_CASE("bigram-backcopy: sequences obey the rules") {
  const BigramBackcopyProcess process;
  const int64_t length = 257;
  const int n_sequences = 500;
  const auto tokens = sample_many(process, Philox(7, 0, RandomStream::data, 0), n_sequences, length);
  int64_t copies = 0;
  bool rules_hold = true;
  for (int s = 0; s < n_sequences; ++s) {
    const int32_t* x = &tokens[s * length];
    rules_hold &= x[0] == process.bos();
    rules_hold &= x[1] >= 0 && x[1] < process.bos() && !process.is_trigger(x[1]);
    for (int64_t i = 1; i < length; ++i) rules_hold &= x[i] >= 0 && x[i] < process.bos();  // no BOS again
    for (int64_t i = 1; i + 1 < length; ++i)
      if (process.is_trigger(x[i])) {
        rules_hold &= x[i + 1] == x[i - 1];
        ++copies;
      }
  }
  CHECK(rules_hold);
  // About a quarter of positions are triggers (' ' alone is 15% of the text); the rule must be exercised.
  CHECK(copies > n_sequences * length / 10);
}

TEST_CASE("bigram-backcopy: transitions out of common characters follow P(. | x)") {
  const BigramBackcopyProcess process;
  const int64_t length = 257;
  const int n_sequences = 4000;
  const auto tokens = sample_many(process, Philox(11, 3, RandomStream::data, 5), n_sequences, length);
  const auto& tables = bigram_tables();
  const int v = process.bos();

  // The 5 most frequent non-trigger characters: 'o', 'a', 'h', 's', 'r'.
  std::vector<int> common;
  for (int t = 0; t < v; ++t)
    if (!process.is_trigger(t)) common.push_back(t);
  std::stable_sort(common.begin(), common.end(),
                   [&](int a, int b) { return tables.unigram[a] > tables.unigram[b]; });
  common.resize(5);
  CHECK(process.token_text(common[0]) == "o");
  CHECK(process.token_text(common[4]) == "r");

  std::vector<std::vector<int64_t>> counts(v, std::vector<int64_t>(v, 0));
  for (int s = 0; s < n_sequences; ++s)
    for (int64_t i = 1; i + 1 < length; ++i) {
      const int32_t* x = &tokens[s * length];
      if (!process.is_trigger(x[i])) counts[x[i]][x[i + 1]]++;
    }
  for (int from : common) {
    CAPTURE(process.token_text(from));
    int64_t n = 0;
    for (int64_t c : counts[from]) n += c;
    REQUIRE(n > 20000);
    // Each empirical frequency is a binomial mean with standard deviation sqrt(p (1 - p) / n). Allowing
    // 5 of the largest such deviation in the row, a correct sampler fails one of the 325 comparisons
    // with probability below 325 * 6e-7 = 2e-4 (and the keys are fixed, so the outcome never changes).
    // A character with P = 0 must never be drawn at all.
    double max_diff = 0.0, max_sd = 0.0;
    bool impossible_drawn = false;
    for (int to = 0; to < v; ++to) {
      const double p = tables.bigram[from][to];
      max_diff = std::max(max_diff, std::abs(static_cast<double>(counts[from][to]) / n - p));
      max_sd = std::max(max_sd, std::sqrt(p * (1 - p) / n));
      impossible_drawn |= p == 0.0 && counts[from][to] > 0;
    }
    CAPTURE(n);
    CAPTURE(max_diff);
    CHECK(max_diff < 5 * max_sd);
    CHECK_FALSE(impossible_drawn);
  }
}

TEST_CASE("bigram-backcopy: a sequence is a pure function of key and index") {
  const BigramBackcopyProcess process;
  const int64_t length = 65;
  std::vector<int32_t> a(length), b(length), c(length), d(length), e(length);
  process.sample(Philox(3, 1, RandomStream::data, 9), 42, length, a.data());
  process.sample(Philox(3, 1, RandomStream::data, 9), 42, length, b.data());
  process.sample(Philox(4, 1, RandomStream::data, 9), 42, length, c.data());
  process.sample(Philox(3, 1, RandomStream::eval_data, 9), 42, length, d.data());
  process.sample(Philox(3, 1, RandomStream::data, 9), 43, length, e.data());
  CHECK(a == b);
  CHECK(a != c);  // another seed
  CHECK(a != d);  // another stream
  CHECK(a != e);  // another sequence
  // Sequence 42 drawn on its own equals sequence 42 drawn among its neighbours.
  const auto many = sample_many(process, Philox(3, 1, RandomStream::data, 9), 50, length);
  CHECK(std::equal(a.begin(), a.end(), many.begin() + 42 * length));
}

TEST_CASE("bigram-backcopy: oracle entropies") {
  const BigramBackcopyProcess process;
  for (int t : process.triggers()) CHECK(process.next_token_entropy(t) == 0.0);
  CHECK(process.next_token_entropy(process.bos()) == doctest::Approx(3.4151).epsilon(1e-4));
  const double oracle = process.stationary_bigram_entropy();
  CHECK(std::abs(oracle - 2.23) < 0.02);

  // The exact expectation against a simulation with sample(): 1000 sequences of inputs x[0:256], the mean
  // of next_token_entropy over their bigram positions. Per-sequence means spread by about 0.18 (more than
  // bigram noise alone: sequences caught by the '3' trap score near 0), so the mean of 1000 has a standard
  // error near 0.006; 0.03 is 5 of them.
  const int64_t length = 257;
  const int n_sequences = 1000;
  const auto tokens = sample_many(process, Philox(2024, 0, RandomStream::eval_data, 0), n_sequences, length);
  double entropy_sum = 0.0;
  int64_t positions = 0;
  for (int s = 0; s < n_sequences; ++s)
    for (int64_t i = 0; i + 1 < length; ++i) {
      const int32_t token = tokens[s * length + i];
      if (process.is_trigger(token)) continue;
      entropy_sum += process.next_token_entropy(token);
      ++positions;
    }
  CHECK(std::abs(entropy_sum / positions - oracle) < 0.03);
}

TEST_CASE("bigram-backcopy: '3' is absorbing, so the oracle loss depends on the sequence length") {
  // In tiny Shakespeare '3' is always followed by ' ', a trigger, which copies '3' back: "3 3 3 ...".
  const BigramBackcopyProcess process;
  const auto& tables = bigram_tables();
  const auto index = [&](char c) { return std::find(tables.vocab.begin(), tables.vocab.end(), c) - tables.vocab.begin(); };
  CHECK(tables.bigram[index('3')][index(' ')] == 1.0);
  const int32_t three = index('3'), space = index(' ');
  std::vector<int32_t> x(2049);
  bool trapped = false, stays = true;
  for (uint64_t s = 0; s < 200 && !trapped; ++s) {
    process.sample(Philox(1, 0, RandomStream::data, 0), s, 2049, x.data());
    const auto first = std::find(x.begin(), x.end(), three);
    if (first == x.end()) continue;
    trapped = true;
    for (auto it = first; it != x.end(); ++it) stays &= *it == ((it - first) % 2 == 0 ? three : space);
  }
  CHECK(trapped);
  CHECK(stays);
  // Position 0 (3.415 nats) weighs more in short sequences; the trap weighs more in long ones.
  CHECK(process.oracle_bigram_entropy(1) > process.oracle_bigram_entropy(64));
  CHECK(process.oracle_bigram_entropy(64) > process.oracle_bigram_entropy(256));
  CHECK(process.oracle_bigram_entropy(4096) < 2.13);
}

namespace {
// The oracle's expected bigram loss over inputs x[0:length], computed here from the raw character counts of
// tasks/bigram_backcopy/tables.json alone (not from the process or its tables): the chain's state is the
// pair (previous token, current token), because a trigger copies the token before it.
double oracle_from_counts(int64_t length) {
  const nlohmann::json tables =
      nlohmann::json::parse(mechlab::testing::read_text(mechlab::testing::source_dir() + "/tasks/bigram_backcopy/tables.json"));
  const std::vector<double> counts = tables["unigram_counts"].get<std::vector<double>>();
  const auto bigrams = tables["bigram_counts"].get<std::vector<std::vector<double>>>();
  const int n = static_cast<int>(counts.size()), bos = n;  // ids 0..n-1 characters, n the BOS
  std::vector<int> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return counts[a] > counts[b]; });
  std::vector<bool> trigger(n + 1, false);
  for (int k = 0; k < 3; ++k) trigger[order[k]] = true;
  // What follows each input: BOS -> unigram without triggers; a non-trigger -> its bigram row.
  std::vector<std::vector<double>> next(n + 1, std::vector<double>(n, 0.0));
  double first_total = 0.0;
  for (int c = 0; c < n; ++c) first_total += trigger[c] ? 0.0 : counts[c];
  for (int c = 0; c < n; ++c) next[bos][c] = trigger[c] ? 0.0 : counts[c] / first_total;
  for (int a = 0; a < n; ++a) {
    double row = 0.0;
    for (double v : bigrams[a]) row += v;
    for (int c = 0; c < n && row > 0; ++c) next[a][c] = bigrams[a][c] / row;
  }
  std::vector<double> entropy(n + 1, 0.0);
  for (int a = 0; a <= n; ++a)
    for (int c = 0; c < n; ++c)
      if ((a == bos || !trigger[a]) && next[a][c] > 0) entropy[a] -= next[a][c] * std::log(next[a][c]);
  // p[prev][cur] at position i; position 0 is BOS (previous: none, stored as BOS).
  std::vector<std::vector<double>> p(n + 1, std::vector<double>(n + 1, 0.0));
  p[bos][bos] = 1.0;
  double loss = 0.0, positions = 0.0;
  for (int64_t i = 0; i < length; ++i) {
    std::vector<std::vector<double>> q(n + 1, std::vector<double>(n + 1, 0.0));
    for (int a = 0; a <= n; ++a)
      for (int b = 0; b <= n; ++b) {
        if (p[a][b] == 0.0) continue;
        if (b == bos || !trigger[b]) {  // a position the oracle scores
          loss += p[a][b] * entropy[b];
          positions += p[a][b];
          for (int c = 0; c < n; ++c) q[b][c] += p[a][b] * next[b][c];
        } else {
          q[b][a] += p[a][b];  // backcopy
        }
      }
    p = q;
  }
  return loss / positions;
}
}  // namespace

TEST_CASE("bigram-backcopy: the oracle entropy matches a computation from the raw counts to 1e-6") {
  const BigramBackcopyProcess process;
  for (int64_t length : {1, 2, 64, 256}) {
    INFO("length " << length);
    CHECK(std::abs(process.oracle_bigram_entropy(length) - oracle_from_counts(length)) < 1e-6);
  }
}
