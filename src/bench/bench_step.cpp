// Benchmark, not a test: time of one CPU training step (forward, backward, AdamW) for a fixed config,
// and its FLOP rate as a fraction of the single-precision matrix-product rate Eigen reaches on the same
// cores, measured in the same run. Prints one table.
#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>

#include "ops/ops.h"
#include "train/train_step.h"

using namespace mechlab;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Eigen's SGEMM rate on `threads` cores: one single-threaded n^3 product per core at once, best of 5.
double eigen_gflops(int threads, int n) {
  std::vector<Eigen::MatrixXf> a(threads, Eigen::MatrixXf::Random(n, n)), b = a, c = a;
  double best = 1e30;
  for (int repeat = 0; repeat < 5; ++repeat) {
    auto start = Clock::now();
    tbb::parallel_for(0, threads, [&](int t) { c[t].noalias() = a[t] * b[t]; });
    best = std::min(best, seconds_since(start));
  }
  return 2.0 * n * n * n * threads / best / 1e9;
}

// Matrix-product FLOPs of one training step: forward F (attention scores over all T x T), backward 2F.
double step_flops(const TransformerConfig& c, int64_t B, int64_t T) {
  const double N = static_cast<double>(B * T), D = c.d_model, H = c.n_heads, E = c.head_width(), M = c.d_mlp;
  const double per_layer = 2 * N * D * H * E * 4 + 2 * 2 * B * H * T * T * E + 2 * 2 * N * D * M;
  return 3 * (c.n_layers * per_layer + 2 * N * D * c.d_vocab);
}
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mechlab CPU training-step benchmark"};
  int threads = 2, steps = 30, warmup = 5;
  int64_t batch = 32, length = 64;
  TransformerConfig config;
  config.n_layers = 2;
  config.n_heads = 4;
  config.d_model = 64;
  config.d_mlp = 256;
  config.n_ctx = 64;
  config.d_vocab = 66;
  app.add_option("--threads", threads, "worker threads")->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "timed steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--batch", batch, "batch size B")->check(CLI::PositiveNumber);
  app.add_option("--layers", config.n_layers, "layers L")->check(CLI::PositiveNumber);
  app.add_option("--d-model", config.d_model, "model width")->check(CLI::PositiveNumber);
  app.add_option("--d-mlp", config.d_mlp, "MLP width")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);

  const double eigen_rate = eigen_gflops(threads, 1024);

  Transformer model(config, {{1, 0}});
  OptimizerConfig oc;
  oc.kind = OptimizerKind::adamw;
  oc.lr = {1e-3};
  oc.weight_decay = 0.1;
  Optimizer optimizer(model.parameters(), oc, 1);
  std::vector<double> times;
  for (int step = 0; step < warmup + steps; ++step) {
    Tensor tokens = random_tokens({{3, 0}}, batch, length + 1, config.d_vocab, step);
    Tensor inputs = slice(tokens, 2, 0, length), targets = slice(tokens, 2, 1, length + 1);
    auto start = Clock::now();
    train_step(model, optimizer, inputs, targets);
    if (step >= warmup) times.push_back(seconds_since(start));
  }
  std::sort(times.begin(), times.end());
  const double median = times[times.size() / 2];
  const double flops = step_flops(config, batch, length);
  const double rate = flops / median / 1e9;

  fmt::print("mechlab CPU training step: L={} H={} d_model={} d_mlp={} T={} vocab={} batch={} AdamW, {} threads\n",
             config.n_layers, config.n_heads, config.d_model, config.d_mlp, length, config.d_vocab, batch, threads);
  fmt::print("| {:<44} | {:>14} |\n", "measure", "value");
  fmt::print("|{:-<46}|{:-<16}|\n", "", "");
  fmt::print("| {:<44} | {:>10.1f} GF/s |\n", "Eigen SGEMM 1024^3 per thread (reference)", eigen_rate);
  fmt::print("| {:<44} | {:>11.2f} ms |\n", fmt::format("mechlab step, median of {}", steps), median * 1e3);
  fmt::print("| {:<44} | {:>11.2f} ms |\n", "mechlab step, fastest", times.front() * 1e3);
  fmt::print("| {:<44} | {:>8.3f} GFLOP |\n", "matrix-product FLOPs per step", flops / 1e9);
  fmt::print("| {:<44} | {:>11.2f} ms |\n", "FLOP floor at the Eigen rate", flops / eigen_rate / 1e6);
  fmt::print("| {:<44} | {:>10.1f} GF/s |\n", "mechlab FLOP rate", rate);
  fmt::print("| {:<44} | {:>12.1f} % |\n", "mechlab / Eigen rate (target >= 30%)", 100.0 * rate / eigen_rate);
  return 0;
}
