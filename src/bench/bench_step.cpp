// Benchmark, not a test: time of one training step (forward, backward, AdamW). On the CPU it prints a
// table with the step's FLOP rate as a fraction of the SGEMM rate Eigen reaches on the same cores in the
// same run (scripts/bench); on CUDA (scripts/bench_gpu) one JSON line per run, compared there with the
// PyTorch twin scripts/bench_torch_reference.py.
#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <fmt/format.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "ops/ops.h"
#include "train/step_runner.h"
#include "train/train_step.h"

#ifdef MECHLAB_HAS_CUDA
#include "backend/cuda/cuda_backend.h"
#endif

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

struct StepTiming {
  double median_s = 0, fastest_s = 0, mean_s = 0, gpu_busy_fraction = 0, final_loss = 0, memory_mb = 0;
  double peak_live_mb = 0;  // the most bytes in live tensors at once (the allocator holds memory_mb)
  std::vector<std::pair<DType, GemmShape>> products;  // one step's products, with --products on CUDA
};

double device_memory_used_mb() {
#ifdef MECHLAB_HAS_CUDA
  size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) == cudaSuccess) return static_cast<double>(total - free) / (1 << 20);
#endif
  return 0.0;
}

// Times `steps` steps after `warmup` untimed ones. Batches are sampled up front (as the trainer samples
// the next batch while the device works) and cycled.
StepTiming time_steps(const TransformerConfig& config, int64_t replicas, int64_t batch, int64_t length, Device device,
                      bool graph, int warmup, int steps, bool log_products) {
  std::vector<ReplicaKey> keys;
  for (int64_t r = 0; r < replicas; ++r) keys.push_back({1, static_cast<uint32_t>(r)});
  const double memory_before = device_memory_used_mb();
  Transformer model(config, keys, DType::f32, device);
  OptimizerConfig oc;
  oc.kind = OptimizerKind::adamw;
  oc.lr = {1e-3};
  oc.weight_decay = 0.1;
  Optimizer optimizer(model.parameters(), oc, replicas);
  StepRunner runner(model, optimizer, graph);
  std::vector<Batch> batches;
  for (uint32_t i = 0; i < 8; ++i) {
    Tensor tokens = random_tokens(keys, batch, length + 1, config.d_vocab, i);
    batches.push_back({slice(tokens, 2, 0, length), slice(tokens, 2, 1, length + 1), Tensor(), {}});
  }
  StepTiming timing;
  std::vector<double> times;
  Tensor losses;
  for (int step = 0; step < warmup; ++step) losses = runner.step(batches[step % 8]);
  if (losses.defined()) losses.to_vector<double>();  // wait for the warm-up
  const auto start = Clock::now();
  for (int step = 0; step < steps; ++step) {
    const auto step_start = Clock::now();
    losses = runner.step(batches[step % 8]);
    if (device == Device::cpu) times.push_back(seconds_since(step_start));
  }
  const std::vector<double> final_losses = losses.to_vector<double>();  // waits for the last step
  const double total = seconds_since(start);
  timing.mean_s = total / steps;
  if (times.empty()) times.push_back(timing.mean_s);
  std::sort(times.begin(), times.end());
  timing.median_s = times[times.size() / 2];
  timing.fastest_s = times.front();
  for (double l : final_losses) timing.final_loss += l / static_cast<double>(final_losses.size());
  timing.memory_mb = device_memory_used_mb() - memory_before;
  timing.peak_live_mb = static_cast<double>(backend_for(device).peak_live_bytes()) / (1 << 20);
#ifdef MECHLAB_HAS_CUDA
  if (device == Device::cuda) {
    // The GPU's span over the same number of steps, between events on the backend's stream, against
    // the wall time: below 1 when the device waits for the host (launches, copies, sampling).
    cudaStream_t stream = cuda_backend()->stream();
    cudaEvent_t begin, end;
    cudaEventCreate(&begin);
    cudaEventCreate(&end);
    const auto wall_start = Clock::now();
    cudaEventRecord(begin, stream);
    for (int step = 0; step < steps; ++step) losses = runner.step(batches[step % 8]);
    cudaEventRecord(end, stream);
    losses.to_vector<double>();
    const double wall = seconds_since(wall_start);
    float gpu_ms = 0;
    cudaEventElapsedTime(&gpu_ms, begin, end);
    timing.gpu_busy_fraction = gpu_ms / 1e3 / wall;
    cudaEventDestroy(begin);
    cudaEventDestroy(end);
    if (log_products) {  // one more step, launched kernel by kernel, so that every product passes gemm()
      StepRunner eager(model, optimizer, false);
      cuda_backend()->log_products(&timing.products);
      eager.step(batches[0]).to_vector<double>();
      cuda_backend()->log_products(nullptr);
    }
  }
#endif
  return timing;
}

#ifdef MECHLAB_HAS_CUDA
// --products: a step's products grouped by shape, each timed alone as the step runs it and at cuBLASLt's
// fastest algorithm (CudaBackend::time_product). Returns the totals per step, in ms: {ours, fastest}.
std::pair<double, double> print_products(const std::vector<std::pair<DType, GemmShape>>& products, bool table) {
  using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, bool, bool, int64_t, int64_t, int64_t, double, double>;
  std::map<Key, std::pair<GemmShape, int>> groups;
  for (const auto& [dtype, g] : products) {
    const Key key{static_cast<int>(dtype), g.batch, g.m, g.n, g.k, g.trans_a, g.trans_b, g.a_batch_stride,
                  g.b_batch_stride, g.c_batch_stride, g.alpha, g.beta};
    ++groups.try_emplace(key, g, 0).first->second.second;
  }
  if (table) {
    fmt::print("\n| product (batch x m x k @ k x n) | per step | GFLOP per step | ms per step | fastest ms | TFLOP/s | "
               "fastest TFLOP/s | algorithms with BIAS, BGRADB |\n");
    fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  }
  double ours = 0, fastest = 0, flops = 0;
  for (const auto& [key, group] : groups) {
    const auto& [g, count] = group;
    const CudaBackend::ProductTiming t = cuda_backend()->time_product(static_cast<DType>(std::get<0>(key)), g, 20);
    const double ms = t.ms, best_ms = t.fastest_ms;
    const double f = 2.0 * g.batch * g.m * g.n * g.k * count;
    ours += ms * count;
    fastest += best_ms * count;
    flops += f;
    if (table)
      fmt::print("| {} x {}x{}{} @ {}x{}{}{} | {} | {:.2f} | {:.3f} | {:.3f} | {:.1f} | {:.1f} | {}, {} |\n", g.batch, g.m,
                 g.k, g.trans_a ? "^T" : "", g.k, g.n, g.trans_b ? "^T" : "", g.beta != 0 ? " (+= c)" : "", count,
                 f / 1e9, ms * count, best_ms * count, f / (ms * count) / 1e9,
                 best_ms > 0 ? f / (best_ms * count) / 1e9 : 0.0, t.bias_algorithms, t.bias_gradient_algorithms);
  }
  if (table)
    fmt::print("| all products | {} | {:.2f} | {:.3f} | {:.3f} | {:.1f} | {:.1f} | |\n", products.size(), flops / 1e9, ours,
               fastest, flops / ours / 1e9, flops / fastest / 1e9);
  return {ours, fastest};
}
#endif
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mechlab training-step benchmark"};
  int threads = 2, steps = 30, warmup = 5;
  int64_t batch = 32, length = 64, replicas = 1;
  std::string device_name = "cpu", format = "table";
  bool no_graph = false, tf32 = false, fused = false, products = false;
  TransformerConfig config;
  config.n_layers = 2;
  config.n_heads = 4;
  config.d_model = 64;
  config.d_mlp = 256;
  config.d_vocab = 66;
  app.add_option("--device", device_name, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--threads", threads, "CPU worker threads")->check(CLI::PositiveNumber);
  app.add_option("--steps", steps, "timed steps")->check(CLI::PositiveNumber);
  app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::NonNegativeNumber);
  app.add_option("--batch", batch, "batch size B")->check(CLI::PositiveNumber);
  app.add_option("--seq", length, "sequence length T")->check(CLI::PositiveNumber);
  app.add_option("--replicas", replicas, "replicas R trained together")->check(CLI::PositiveNumber);
  app.add_option("--layers", config.n_layers, "layers L")->check(CLI::PositiveNumber);
  app.add_option("--heads", config.n_heads, "heads H")->check(CLI::PositiveNumber);
  app.add_option("--d-model", config.d_model, "model width")->check(CLI::PositiveNumber);
  app.add_option("--d-mlp", config.d_mlp, "MLP width")->check(CLI::NonNegativeNumber);
  app.add_option("--vocab", config.d_vocab, "vocabulary V")->check(CLI::PositiveNumber);
  app.add_option("--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  app.add_flag("--no-graph", no_graph, "on CUDA, launch every kernel instead of replaying a CUDA graph");
  app.add_flag("--fused-attention", fused, "on CUDA, the fused attention kernels (train.fused_attention)");
  app.add_flag("--tf32", tf32, "on CUDA, TF32 tensor-core products (train.matmul_precision = tf32)");
  app.add_flag("--products", products,
               "on CUDA, also time each of a step's products alone, as the step runs it and at cuBLASLt's fastest");
  CLI11_PARSE(app, argc, argv);
  config.n_ctx = static_cast<int>(length);
  const Device device = device_name == "cuda" ? Device::cuda : Device::cpu;
  if (products && device != Device::cuda) {
    fmt::print(stderr, "mechlab_bench: --products times cuBLASLt's algorithms; use it with --device cuda\n");
    return 2;
  }
  if (device == Device::cuda && !cuda_backend_or_null()) {
    fmt::print(stderr, "mechlab_bench: no usable CUDA GPU\n");
    return 1;
  }
  backend_for(device).set_matmul_precision(tf32 ? MatmulPrecision::tf32 : MatmulPrecision::fp32);
  backend_for(device).allow_fused_attention(fused);
  tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);

  const StepTiming t = time_steps(config, replicas, batch, length, device, !no_graph, warmup, steps, products);
  const double flops = step_flops(config, batch, length) * static_cast<double>(replicas);
  if (format == "json") {
    nlohmann::ordered_json record{{"impl", "mechlab"}, {"device", device_name}, {"graph", device == Device::cuda && !no_graph}, {"tf32", device == Device::cuda && tf32},
                                  {"fused_attention", device == Device::cuda && fused},
                                  {"layers", config.n_layers}, {"heads", config.n_heads}, {"d_model", config.d_model},
                                  {"d_mlp", config.d_mlp}, {"seq", length}, {"vocab", config.d_vocab}, {"batch", batch},
                                  {"replicas", replicas}, {"steps", steps}, {"ms_per_step", t.mean_s * 1e3},
                                  {"final_loss", t.final_loss}, {"gpu_memory_mb", t.memory_mb}, {"peak_live_mb", t.peak_live_mb},
                                  {"kernel_fraction", t.gpu_busy_fraction}, {"gflops", flops / t.mean_s / 1e9}};
#ifdef MECHLAB_HAS_CUDA
    if (!t.products.empty()) {
      const auto [ours, fastest] = print_products(t.products, false);
      record["products_ms"] = ours;
      record["products_fastest_ms"] = fastest;
    }
#endif
    fmt::print("{}\n", record.dump());
    return 0;
  }
  const double rate = flops / t.median_s / 1e9;
  fmt::print("mechlab {}{} training step: L={} H={} d_model={} d_mlp={} T={} vocab={} batch={} replicas={} AdamW, {} threads\n",
             device_name, device == Device::cuda && tf32 ? " (TF32)" : "", config.n_layers, config.n_heads, config.d_model, config.d_mlp, length, config.d_vocab, batch,
             replicas, threads);
  fmt::print("| {:<44} | {:>14} |\n", "measure", "value");
  fmt::print("|{:-<46}|{:-<16}|\n", "", "");
  if (device == Device::cuda) {  // per-step host times do not exist on the GPU: the mean over the run
    fmt::print("| {:<44} | {:>11.3f} ms |\n", fmt::format("mechlab step, mean of {}", steps), t.mean_s * 1e3);
    fmt::print("| {:<44} | {:>8.3f} GFLOP |\n", "matrix-product FLOPs per step", flops / 1e9);
    fmt::print("| {:<44} | {:>10.1f} GF/s |\n", "mechlab FLOP rate", flops / t.mean_s / 1e9);
    fmt::print("| {:<44} | {:>11.2f} MB |\n", "GPU memory used", t.memory_mb);
    fmt::print("| {:<44} | {:>11.2f} MB |\n", "peak bytes in live tensors", t.peak_live_mb);
    fmt::print("| {:<44} | {:>14.2f} |\n", "GPU busy fraction", t.gpu_busy_fraction);
#ifdef MECHLAB_HAS_CUDA
    if (!t.products.empty()) print_products(t.products, true);
#endif
    return 0;
  }
  const double eigen_rate = eigen_gflops(threads, 1024);
  fmt::print("| {:<44} | {:>10.1f} GF/s |\n", "Eigen SGEMM 1024^3 per thread (reference)", eigen_rate);
  fmt::print("| {:<44} | {:>11.2f} ms |\n", fmt::format("mechlab step, median of {}", steps), t.median_s * 1e3);
  fmt::print("| {:<44} | {:>11.2f} ms |\n", "mechlab step, fastest", t.fastest_s * 1e3);
  fmt::print("| {:<44} | {:>8.3f} GFLOP |\n", "matrix-product FLOPs per step", flops / 1e9);
  fmt::print("| {:<44} | {:>11.2f} ms |\n", "FLOP floor at the Eigen rate", flops / eigen_rate / 1e6);
  fmt::print("| {:<44} | {:>10.1f} GF/s |\n", "mechlab FLOP rate", rate);
  fmt::print("| {:<44} | {:>12.1f} % |\n", "mechlab / Eigen rate (target >= 30%)", 100.0 * rate / eigen_rate);
  return 0;
}
