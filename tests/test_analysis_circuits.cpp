// Task-independent analysis: head weight circuits (analysis/circuits) against explicit loops and hand-set
// copying heads, attention rollout against a hand computation and attention flow against brute-force
// minimum cuts (analysis/attention_flow).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include "analysis/attention_flow.h"
#include "analysis/circuits.h"
#include "analysis/max_flow.h"
#include "nn/transformer.h"

using namespace mechlab;

namespace {
TransformerConfig token_model() {
  TransformerConfig c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_model = 6;
  c.d_head = 4;  // not d_model / n_heads, so E and D cannot be swapped unnoticed
  c.d_mlp = 8;
  c.n_ctx = 5;
  c.d_vocab = 5;
  c.attention_scale = 0.3;
  c.init = {InitScheme::normal, 0.5};
  return c;
}

// Entry (r, h, a, b) of sum_e X[r, h, a, e] Y[r, h, b, e] (transpose_y) or X[r, h, a, e] Y[r, h, e, b].
double head_product(const std::vector<double>& x, const std::vector<double>& y, int64_t rh, int64_t a, int64_t b,
                    int64_t rows, int64_t inner, int64_t cols, bool transpose_y) {
  double total = 0.0;
  for (int64_t e = 0; e < inner; ++e)
    total += x[(rh * rows + a) * inner + e] * (transpose_y ? y[(rh * cols + b) * inner + e] : y[(rh * inner + e) * cols + b]);
  return total;
}

// Writes values into a parameter's storage (f64 CPU models only): hand-set circuits.
void set_parameter(const Transformer& model, const std::string& name, const std::vector<double>& values) {
  Tensor p = model.parameter(name);
  REQUIRE(p.numel() == static_cast<int64_t>(values.size()));
  std::copy(values.begin(), values.end(), p.data<double>());
}

// R copies of a (rows, cols) matrix given by entry(r, a, b).
template <typename Entry> std::vector<double> per_replica(int64_t R, int64_t rows, int64_t cols, Entry entry) {
  std::vector<double> values;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t a = 0; a < rows; ++a)
      for (int64_t b = 0; b < cols; ++b) values.push_back(entry(r, a, b));
  return values;
}

// A causal (H, T, T) pattern with distinct rows summing to 1; `zero_first_row` as attention excluding self.
Tensor causal_pattern(int64_t H, int64_t T, double seed, bool zero_first_row = false) {
  std::vector<double> values(H * T * T, 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t i = zero_first_row ? 1 : 0; i < T; ++i) {
      const int64_t visible = zero_first_row ? i : i + 1;
      double total = 0.0;
      for (int64_t j = 0; j < visible; ++j) total += values[(h * T + i) * T + j] = std::exp(std::sin(seed + 1.7 * h + 0.9 * i + 2.3 * j));
      for (int64_t j = 0; j < visible; ++j) values[(h * T + i) * T + j] /= total;
    }
  return Tensor::from_vector<double>({H, T, T}, values);
}

// A'[i][j] = 0.5 mean_h A + 0.5 I, rows renormalised, written out independently of the library.
std::vector<std::vector<double>> mixed(const Tensor& pattern) {
  const int64_t H = pattern.dim(0), T = pattern.dim(1);
  const std::vector<double> a = pattern.to_vector<double>();
  std::vector<std::vector<double>> m(T, std::vector<double>(T, 0.0));
  for (int64_t i = 0; i < T; ++i) {
    double row = 0.0;
    for (int64_t j = 0; j < T; ++j) {
      for (int64_t h = 0; h < H; ++h) m[i][j] += 0.5 * a[(h * T + i) * T + j] / H;
      m[i][j] += i == j ? 0.5 : 0.0;
      row += m[i][j];
    }
    for (int64_t j = 0; j < T; ++j) m[i][j] /= row;
  }
  return m;
}

// Minimum over every node subset S holding the source and not the sink of the capacity leaving S: the
// max-flow by the max-flow min-cut theorem. Node l * T + p; edges (l-1, j) -> (l, i) of capacity A'_l[i][j].
double brute_force_min_cut(const std::vector<std::vector<std::vector<double>>>& layers, int source, int sink) {
  const int L = static_cast<int>(layers.size()), T = static_cast<int>(layers[0].size()), nodes = (L + 1) * T;
  double best = std::numeric_limits<double>::infinity();
  for (uint32_t S = 0; S < (1u << nodes); ++S) {
    if (!(S >> source & 1) || (S >> sink & 1)) continue;
    double cut = 0.0;
    for (int l = 1; l <= L; ++l)
      for (int i = 0; i < T; ++i)
        for (int j = 0; j < T; ++j)
          if ((S >> ((l - 1) * T + j) & 1) && !(S >> (l * T + i) & 1)) cut += layers[l - 1][i][j];
    best = std::min(best, cut);
  }
  return best;
}
}  // namespace

TEST_CASE("head_qk and head_ov equal scale W_Q W_K^T and W_V W_O computed by explicit loops") {
  const TransformerConfig c = token_model();
  Transformer model(c, {{5, 0}, {5, 1}}, DType::f64);
  const int64_t R = 2, H = c.n_heads, D = c.d_model, E = c.head_width();
  for (int layer = 0; layer < c.n_layers; ++layer) {
    const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
    const auto W_Q = model.parameter(prefix + "W_Q").to_vector<double>(), W_K = model.parameter(prefix + "W_K").to_vector<double>();
    const auto W_V = model.parameter(prefix + "W_V").to_vector<double>(), W_O = model.parameter(prefix + "W_O").to_vector<double>();
    const Tensor qk = head_qk(model, layer), ov = head_ov(model, layer);
    REQUIRE(qk.shape() == Shape{R, H, D, D});
    REQUIRE(ov.shape() == Shape{R, H, D, D});
    const auto qk_values = qk.to_vector<double>(), ov_values = ov.to_vector<double>();
    for (int64_t rh = 0; rh < R * H; ++rh)
      for (int64_t a = 0; a < D; ++a)
        for (int64_t b = 0; b < D; ++b) {
          CHECK(std::abs(qk_values[(rh * D + a) * D + b] - 0.3 * head_product(W_Q, W_K, rh, a, b, D, E, D, true)) < 1e-12);
          CHECK(std::abs(ov_values[(rh * D + a) * D + b] - head_product(W_V, W_O, rh, a, b, D, E, D, false)) < 1e-12);
        }
  }

  // Output heads: the last layer's W_O writes d_output directly, and head_ov follows it.
  TransformerConfig heads;
  heads.n_layers = 1, heads.n_heads = 2, heads.d_model = 6, heads.d_head = 6, heads.d_mlp = 0;
  heads.input = InputKind::vectors, heads.d_input = 6, heads.input_projection = false;
  heads.output = OutputKind::heads, heads.d_output = 2;
  heads.positions = Positions::none, heads.layernorm = LayerNormPlacement::none, heads.biases = false, heads.residual = false;
  heads.init = {InitScheme::normal, 0.5};
  Transformer readout(heads, {{7, 0}}, DType::f64);
  const auto W_V = readout.parameter("blocks.0.attn.W_V").to_vector<double>();
  const auto W_O = readout.parameter("blocks.0.attn.W_O").to_vector<double>();
  const Tensor ov = head_ov(readout, 0);
  REQUIRE(ov.shape() == Shape{1, 2, 6, 2});
  const auto ov_values = ov.to_vector<double>();
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t a = 0; a < 6; ++a)
      for (int64_t b = 0; b < 2; ++b)
        CHECK(std::abs(ov_values[(h * 6 + a) * 2 + b] - head_product(W_V, W_O, h, a, b, 6, 6, 2, false)) < 1e-12);
}

TEST_CASE("head circuits refuse a layer without attention, naming it") {
  TransformerConfig c = token_model();
  c.attention_layers = {false, true};
  Transformer model(c, {{5, 0}}, DType::f64);
  CHECK(head_qk(model, 1).shape() == Shape{1, 2, 6, 6});
  for (auto circuit : {head_qk, head_ov, full_ov_circuits, ov_copy_scores}) {
    std::string message;
    try {
      circuit(model, 0);
    } catch (const std::invalid_argument& e) {
      message = e.what();
    }
    CHECK(message.find("layer 0 has no attention") != std::string::npos);
  }
  CHECK_THROWS_AS(head_ov(model, 2), std::invalid_argument);
}

TEST_CASE("full OV circuits equal W_E W_V W_O W_U by explicit loops") {
  const TransformerConfig c = token_model();
  Transformer model(c, {{9, 0}, {9, 1}}, DType::f64);
  const int64_t R = 2, H = c.n_heads, V = c.d_vocab, D = c.d_model;
  const auto W_E = model.parameter("embed.W_E").to_vector<double>(), W_U = model.parameter("unembed.W_U").to_vector<double>();
  const auto ov = head_ov(model, 1).to_vector<double>();  // checked against loops above
  const Tensor full = full_ov_circuits(model, 1);
  REQUIRE(full.shape() == Shape{R, H, V, V});
  const auto values = full.to_vector<double>();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t s = 0; s < V; ++s)
        for (int64_t t = 0; t < V; ++t) {
          double expected = 0.0;
          for (int64_t a = 0; a < D; ++a)
            for (int64_t b = 0; b < D; ++b)
              expected += W_E[(r * V + s) * D + a] * ov[((r * H + h) * D + a) * D + b] * W_U[(r * D + b) * V + t];
          CHECK(std::abs(values[((r * H + h) * V + s) * V + t] - expected) < 1e-12);
        }
}

TEST_CASE("OV copying score: +1 for a copying head, -1 for a suppressing one, 0.5 with a quarter turn in one plane") {
  // One head, V = D = E = 4, every matrix the identity except W_O: replica 0 +I, replica 1 -I, replica 2
  // a quarter turn in the first plane (eigenvalues i, -i, 1, 1: sum 2 over moduli 4).
  TransformerConfig c;
  c.n_layers = 1, c.n_heads = 1, c.d_model = 4, c.d_mlp = 0, c.n_ctx = 3, c.d_vocab = 4;
  c.init = {InitScheme::zeros, 0.02};
  Transformer model(c, {{1, 0}, {1, 1}, {1, 2}}, DType::f64);
  auto identity = [](int64_t, int64_t a, int64_t b) { return a == b ? 1.0 : 0.0; };
  set_parameter(model, "embed.W_E", per_replica(3, 4, 4, identity));
  set_parameter(model, "blocks.0.attn.W_V", per_replica(3, 4, 4, identity));
  set_parameter(model, "unembed.W_U", per_replica(3, 4, 4, identity));
  set_parameter(model, "blocks.0.attn.W_O", per_replica(3, 4, 4, [](int64_t r, int64_t a, int64_t b) {
                  if (r == 2 && a < 2 && b < 2) return a == b ? 0.0 : (a == 0 ? 1.0 : -1.0);
                  return a == b ? (r == 1 ? -1.0 : 1.0) : 0.0;
                }));
  const auto full = full_ov_circuits(model, 0).to_vector<double>();
  CHECK(full[0] == 1.0);
  CHECK(full[16] == -1.0);
  const Tensor scores = ov_copy_scores(model, 0);
  REQUIRE(scores.shape() == Shape{3, 1});
  const auto s = scores.to_vector<double>();
  CHECK(std::abs(s[0] - 1.0) < 1e-12);
  CHECK(std::abs(s[1] + 1.0) < 1e-12);
  CHECK(std::abs(s[2] - 0.5) < 1e-12);
}

TEST_CASE("attention rollout matches a hand computation (2 layers, 3 positions)") {
  const Tensor layer0 = Tensor::from_vector<double>({1, 3, 3}, {1, 0, 0, 0.5, 0.5, 0, 0.2, 0.3, 0.5});
  const Tensor layer1 = Tensor::from_vector<double>({1, 3, 3}, {1, 0, 0, 0.25, 0.75, 0, 0.6, 0.2, 0.2});
  // A'_0 = [[1, 0, 0], [.25, .75, 0], [.1, .15, .75]], A'_1 = [[1, 0, 0], [.125, .875, 0], [.3, .1, .6]].
  const std::vector<double> expected = {1, 0, 0, 0.25, 0.75, 0, 0.1, 0.15, 0.75,
                                         1, 0, 0, 0.34375, 0.65625, 0, 0.385, 0.165, 0.45};
  const Tensor rollout = attention_rollout({layer0, layer1});
  REQUIRE(rollout.shape() == Shape{2, 3, 3});
  const auto values = rollout.to_vector<double>();
  for (size_t k = 0; k < expected.size(); ++k) CHECK(std::abs(values[k] - expected[k]) < 1e-12);

  // Heads are averaged: two f32 heads whose mean is layer 1 give the same rollout.
  const Tensor two_heads = Tensor::from_vector<float>({2, 3, 3}, {1, 0, 0, 0.5f, 0.5f, 0, 0.7f, 0.3f, 0,
                                                                  1, 0, 0, 0, 1, 0, 0.5f, 0.1f, 0.4f});
  const auto averaged = attention_rollout({layer0, two_heads}).to_vector<double>();
  for (size_t k = 0; k < expected.size(); ++k) CHECK(std::abs(averaged[k] - expected[k]) < 1e-7);
}

TEST_CASE("max flow pushes flow back along an edge when a first shortest path blocks the rest") {
  // s -> x1 -> y1 -> t is found first and saturates y1 -> t; the maximum 2 needs the second path
  // s -> x2 -> y1 -> x1 -> y2 -> t, which undoes x1 -> y1. A greedy search without reverse edges stops at 1.
  enum { s, x1, x2, y1, y2, t };
  FlowNetwork network(6);
  for (auto [from, to] : {std::pair{s, x1}, {s, x2}, {x1, y1}, {x1, y2}, {x2, y1}, {y1, t}, {y2, t}})
    network.add_edge(from, to, 1.0);
  CHECK(network.max_flow(s, t) == 2.0);
  CHECK(network.max_flow(x2, t) == 1.0);  // the network is reusable: each call starts from zero flow
  CHECK(network.max_flow(t, s) == 0.0);
}

TEST_CASE("attention flow through one layer is A' itself") {
  const Tensor pattern = causal_pattern(2, 4, 0.4);
  const auto expected = mixed(pattern);
  const Tensor flow = attention_flow({pattern});
  REQUIRE(flow.shape() == Shape{4, 4});
  const auto values = flow.to_vector<double>();
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) CHECK(std::abs(values[i * 4 + j] - expected[i][j]) < 1e-12);
}

TEST_CASE("attention flow equals the brute-force minimum cut (2 and 3 layers, 3 and 4 positions)") {
  for (int L : {2, 3})
    for (int T : {3, 4})
      for (double seed : {0.2, 1.1, 2.9}) {
        std::vector<Tensor> patterns;
        std::vector<std::vector<std::vector<double>>> layers;
        for (int l = 0; l < L; ++l) {
          patterns.push_back(causal_pattern(2, T, 1.3 * l + seed, l == 1));
          layers.push_back(mixed(patterns.back()));
        }
        const auto flow = attention_flow(patterns).to_vector<double>();
        const auto rollout = attention_rollout(patterns).to_vector<double>();
        double largest_gap = 0.0;  // flow and rollout differ, so the comparison can tell them apart
        for (int i = 0; i < T; ++i)
          for (int j = 0; j < T; ++j) {
            INFO("L = " << L << ", T = " << T << ", seed = " << seed << ", i = " << i << ", j = " << j);
            const double expected = j <= i ? brute_force_min_cut(layers, j, L * T + i) : 0.0;
            CHECK(std::abs(flow[i * T + j] - expected) < 1e-12);
            largest_gap = std::max(largest_gap, std::abs(flow[i * T + j] - rollout[((L - 1) * T + i) * T + j]));
          }
        CHECK(largest_gap > 0.05);
      }
}

TEST_CASE("rollout rows sum to 1; flow lies between the rollout and 1, so its rows sum to at least 1") {
  const int L = 3, T = 6;
  std::vector<Tensor> patterns;
  for (int l = 0; l < L; ++l) patterns.push_back(causal_pattern(3, T, 0.8 * l, l == 2));
  const auto rollout = attention_rollout(patterns).to_vector<double>();
  const auto flow = attention_flow(patterns).to_vector<double>();
  for (int l = 0; l < L; ++l)
    for (int i = 0; i < T; ++i) {
      double row = 0.0;
      for (int j = 0; j < T; ++j) row += rollout[(l * T + i) * T + j];
      CHECK(std::abs(row - 1.0) < 1e-12);
    }
  for (int i = 0; i < T; ++i) {
    double row = 0.0;
    for (int j = 0; j < T; ++j) {
      const double f = flow[i * T + j];
      CHECK(f >= rollout[((L - 1) * T + i) * T + j] - 1e-12);
      CHECK(f <= 1.0 + 1e-12);
      if (j > i) CHECK(f == 0.0);
      row += f;
    }
    CHECK(row >= 1.0 - 1e-12);
    if (i > 0) CHECK(row > 1.0 + 1e-3);  // separate max-flows share capacity: strictly more than the rollout's 1
  }
}
