#include "tasks/icl_linreg/length_sweep.h"

#include <fmt/format.h>

#include <algorithm>

#include "autograd/grad_mode.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "ops/ops.h"
#include "tasks/icl_linreg/baselines.h"
#include "tasks/icl_linreg/circuits.h"
#include "tensor/replica_slice.h"

namespace mechlab {

namespace {
// Prompts per forward pass: the attention of 1000 prompts of length 100 over 8 heads is ~300 MB.
constexpr int64_t kChunk = 1000;

// The model's query predictions for `prompts`, per replica: (R, N * K) host values, prompt-major.
std::vector<std::vector<double>> predict(const Transformer& model, const std::vector<Prompt>& prompts) {
  const int64_t R = model.replicas(), N = static_cast<int64_t>(prompts.size()), K = prompts[0].outputs();
  const int64_t T = prompts[0].x.rows() + 1, W = prompts[0].x.cols() + K;
  std::vector<std::vector<double>> out(R);
  for (int64_t start = 0; start < N; start += kChunk) {
    const int64_t n = std::min(kChunk, N - start);
    std::vector<float> z(n * T * W, 0.0f);
    for (int64_t b = 0; b < n; ++b) write_prompt_tokens(prompts[start + b], &z[b * T * W]);
    const Tensor tokens = Tensor::from_vector<float>({1, n, T, W}, z).to(model.device());
    const Tensor outputs = model.forward(broadcast_to(tokens, {R, n, T, W}));  // the same prompts for every replica
    const std::vector<float> last = slice(outputs, 2, T - 1, T).to(Device::cpu).to_vector<float>();  // (R, n, K)
    for (int64_t r = 0; r < R; ++r)
      out[r].insert(out[r].end(), last.begin() + r * n * K, last.begin() + (r + 1) * n * K);
  }
  return out;
}
}  // namespace

void write_length_sweep(const Transformer& model, const PromptSampler& sampler, const LengthSweep& sweep,
                        const std::vector<std::filesystem::path>& dirs) {
  NoGradGuard no_grad;
  std::vector<std::string> csv(dirs.size(), "prompt_length,prompts,model,ridge,least_squares,gd,debiased_gd\n");
  for (int64_t length : sweep.lengths) {
    const Philox rng(0, 0, RandomStream::eval_data, static_cast<uint32_t>(1000 + length));
    std::vector<Prompt> prompts;
    std::vector<double> y, ridge, least_squares, gd, debiased;
    for (int64_t s = 0; s < sweep.prompts; ++s) {
      prompts.push_back(sampler.sample(rng, static_cast<uint64_t>(s), length));
      for (int k = 0; k < sampler.outputs(); ++k) {  // every (prompt, output) pair is one sample
        const Prompt p = prompts.back().output(k);
        y.push_back(p.y_query[0]);
        ridge.push_back(ridge_prediction(p, sampler.ridge_lambda()));
        least_squares.push_back(ridge_prediction(p, 0.0));
        gd.push_back(gd_direction(p));
        debiased.push_back(debiased_gd_direction(p));
      }
    }
    const std::string baselines =
        fmt::format("{:.6f},{:.6f},{:.6f},{:.6f}", mean_squared_error(ridge, y), mean_squared_error(least_squares, y),
                    fit_step(gd, y).mse, fit_step(debiased, y).mse);
    const std::vector<std::vector<double>> predictions = predict(model, prompts);
    for (size_t r = 0; r < dirs.size(); ++r)
      csv[r] += fmt::format("{},{},{:.6f},{}\n", length, sweep.prompts, mean_squared_error(predictions[r], y), baselines);
  }
  const bool circuits = model.config().n_layers == 1 && model.config().layer(0).attention;
  const Tensor kq = circuits ? kq_circuits(model).to(Device::cpu) : Tensor();
  Tensor ov = circuits ? ov_circuits(model).to(Device::cpu) : Tensor();  // (R, H, D, K); (R, H, D) for one output
  if (circuits && ov.dim(3) == 1) ov = reshape(ov, {ov.dim(0), ov.dim(1), ov.dim(2)});
  for (size_t r = 0; r < dirs.size(); ++r) {
    write_file_atomically(dirs[r] / "mse_by_length.csv", csv[r]);
    if (!circuits) continue;
    save_npy(dirs[r] / "kq.npy", replica_slice(kq, static_cast<int64_t>(r)));
    save_npy(dirs[r] / "ov.npy", replica_slice(ov, static_cast<int64_t>(r)));
  }
}

}  // namespace mechlab
