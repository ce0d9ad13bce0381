#include "tasks/icl_linreg/icl_linreg_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "config/config_error.h"
#include "nn/memory_model.h"
#include "ops/ops.h"
#include "task/parallel_replicas.h"
#include "tasks/icl_linreg/baselines.h"
#include "tasks/icl_linreg/circuits.h"

namespace mechlab {

namespace {
double rho_of(const nlohmann::json& options) {
  return options["covariance"] == "toeplitz" ? options["rho"].get<double>() : 0.0;
}

// The prompts of one replica back from a host batch: inputs (B, T, d + K), targets (B, T, K).
std::vector<Prompt> prompts_of(const float* inputs, const float* targets, int64_t B, int64_t T, int d, int K) {
  std::vector<Prompt> prompts;
  for (int64_t b = 0; b < B; ++b) {
    Eigen::VectorXd y_query(K);
    for (int k = 0; k < K; ++k) y_query[k] = targets[(b * T + T - 1) * K + k];
    prompts.push_back(read_prompt_tokens(inputs + b * T * (d + K), T, d, y_query));
  }
  return prompts;
}

double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const double n = static_cast<double>(a.size());
  double ma = 0.0, mb = 0.0;
  for (size_t i = 0; i < a.size(); ++i) ma += a[i] / n, mb += b[i] / n;
  double ab = 0.0, aa = 0.0, bb = 0.0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) * (a[i] - ma);
    bb += (b[i] - mb) * (b[i] - mb);
  }
  return aa > 0.0 && bb > 0.0 ? ab / std::sqrt(aa * bb) : 0.0;
}

// The multi-task heads' roles: per head h, mu.Hh.y1 / mu.Hh.y2 (OV from y_k to output k) and the mean KQ
// diagonal over the coordinates only y_1 reads (kq_diag_first.Hh), both read (kq_diag_shared.Hh) and only y_2
// reads (kq_diag_last.Hh).
void add_head_roles(const std::vector<float>& kq, const std::vector<float>& ov, int64_t R, int64_t H, int64_t D, int d,
                    std::vector<Metrics>& metrics) {
  const int64_t K = D - d;
  auto mean_diag = [&](const float* m, int begin, int end) {
    double total = 0.0;
    for (int i = begin; i < end; ++i) total += m[i * D + i];
    return total / (end - begin);
  };
  for (int64_t r = 0; r < R; ++r)
    for (int64_t h = 0; h < H; ++h) {
      const float* k = &kq[(r * H + h) * D * D];
      const float* o = &ov[(r * H + h) * D * K];
      const std::string head = "H" + std::to_string(h);
      for (int64_t out = 0; out < K; ++out) metrics[r]["mu." + head + ".y" + std::to_string(out + 1)] = o[(d + out) * K + out];
      metrics[r]["kq_diag_first." + head] = mean_diag(k, 0, 2);
      if (d > 4) metrics[r]["kq_diag_shared." + head] = mean_diag(k, 2, d - 2);  // none are shared at d = 4
      metrics[r]["kq_diag_last." + head] = mean_diag(k, d - 2, d);
    }
}

// Per head h: omega.Hh, kq_diag_spread.Hh, kq_offdiag_ratio.Hh, mu.Hh, ov_last_ratio.Hh; and mu_sum. With
// two outputs, the head roles instead.
void add_circuit_metrics(const Tensor& kq_tensor, const Tensor& ov_tensor, int d, std::vector<Metrics>& metrics) {
  const int64_t R = kq_tensor.dim(0), H = kq_tensor.dim(1), D = kq_tensor.dim(2);
  const std::vector<float> kq = kq_tensor.to_vector<float>(), ov = ov_tensor.to_vector<float>();
  if (D - d > 1) return add_head_roles(kq, ov, R, H, D, d, metrics);
  for (int64_t r = 0; r < R; ++r) {
    double mu_sum = 0.0;
    for (int64_t h = 0; h < H; ++h) {
      const HeadCircuit c = summarize_head(&kq[(r * H + h) * D * D], &ov[(r * H + h) * D], D);
      const std::string head = "H" + std::to_string(h);
      metrics[r]["omega." + head] = c.omega;
      metrics[r]["kq_diag_spread." + head] = c.diag_spread;
      metrics[r]["kq_offdiag_ratio." + head] = c.offdiag_ratio;
      metrics[r]["mu." + head] = c.mu;
      metrics[r]["ov_last_ratio." + head] = c.last_entry_ratio;
      mu_sum += c.mu;
    }
    metrics[r]["mu_sum"] = mu_sum;
  }
}
}  // namespace

namespace {
// The task's options that depend on each other, checked before the sampler is built.
const nlohmann::json& checked(const nlohmann::json& options) {
  // Two outputs read x[0 : d-2] and x[2 : d]; below d = 4 one of them would read nothing of its own.
  if (options["outputs"] == 2 && options["d"].get<int>() < 4)
    throw ConfigError("task.d", "is " + std::to_string(options["d"].get<int>()) +
                                    ", but two outputs (y_1 = b_1 . x[0 : d-2], y_2 = b_2 . x[2 : d]) need d >= 4");
  return options;
}
}  // namespace

IclLinregTask::IclLinregTask(const nlohmann::json& options)
    : d_(checked(options)["d"]),  // d_ is initialised first: the checks run before the sampler is built
      prompt_length_(options["prompt_length"]),
      sampler_(options["d"].get<int>(), options["noise_variance"].get<double>(), rho_of(options),
               options["outputs"].get<int>(), options["beta_variance"].get<double>()),
      sweep_{options["eval_lengths"].get<std::vector<int64_t>>(), options["eval_length_prompts"].get<int64_t>()} {}

Schema IclLinregTask::options() {
  Schema s;
  s.integer("d", 5, "Dimension of x; tokens are [x; y], d + outputs wide.", 1, 1023);
  s.integer("outputs", 1,
            "1, or 2 for the multi-task variant: y_1 = b_1 . x[0 : d-2] and y_2 = b_2 . x[2 : d] (needs d >= 4).", 1, 2);
  s.integer("prompt_length", 40, "Context pairs L before the query.", 1, 1 << 20);
  s.number("noise_variance", 0.1, "sigma^2 of the label noise (the floor of the query MSE).", 0.0, 1e6, false);
  s.number("beta_variance", 0.0,
           "Prior variance of each coordinate of beta; 0 means 1/m with m the coordinates an output reads (the paper's "
           "N(0, I/d)); the authors' multi-task code draws N(0, I), i.e. 1.", 0.0, 1e6, false);
  s.choice("covariance", "isotropic", {"isotropic", "toeplitz"},
           "Covariance of x: the identity, or Sigma_ij = rho^|i - j|.");
  s.integer_list("eval_lengths", nlohmann::json::array({10, 20, 40, 60, 100}),
                 "Prompt lengths L' at which each dump also evaluates the model and the baselines (mse_by_length.csv).",
                 1, 1 << 20);
  s.integer("eval_length_prompts", 10000, "Fresh prompts per length L' in mse_by_length.csv.", 1, 10000000);
  s.number("rho", 0.5, "Correlation of neighbouring coordinates for the toeplitz covariance.", -0.999, 0.999, false);
  return s;
}

void IclLinregTask::adapt_model(nlohmann::json& model) const {
  model["input"] = "vectors";
  if (model["output"] == "logits") model["output"] = "readout";  // the schema's default: a readout task keeps heads
  const int K = sampler_.outputs();
  require_model_value(model, "d_input", d_ + K, "icl_linreg tokens are [x; y] with x of width task.d and task.outputs ys");
  require_model_value(model, "d_output", K, "icl_linreg predicts task.outputs numbers");
  // Learned positions must cover the longest prompt the length sweep evaluates too.
  const int64_t longest = std::max(prompt_length_, *std::max_element(sweep_.lengths.begin(), sweep_.lengths.end()));
  if (model["n_ctx"].get<int64_t>() == 0) model["n_ctx"] = (model["positions"] == "learned" ? longest : prompt_length_) + 1;
  if (model["positions"] == "learned" && model["n_ctx"].get<int64_t>() < longest + 1)
    throw ConfigError(longest > prompt_length_ ? "task.eval_lengths" : "model.n_ctx",
                      fmt::format("prompts of length {} need model.n_ctx >= {} with learned positions, but it is {}; "
                                  "raise model.n_ctx or shorten the prompts",
                                  longest, longest + 1, model["n_ctx"].get<int64_t>()));
}

std::vector<MemoryPart> IclLinregTask::analysis_memory(const TransformerConfig& model, int64_t replicas) const {
  const double longest = static_cast<double>(*std::max_element(sweep_.lengths.begin(), sweep_.lengths.end()));
  const double N = static_cast<double>(sweep_.prompts), W = d_ + sampler_.outputs();
  // Eigen's double prompts plus five per-output columns (targets and four baselines), and one chunk's pass.
  const double host = N * (longest + 1) * W * 8.0 + N * sampler_.outputs() * 5 * 8.0;
  const double chunk = std::min(N, 1000.0) * static_cast<double>(replicas);
  return {{fmt::format("the length sweep beside each dump ({} prompts of up to {} pairs)", sweep_.prompts, longest),
           "task.eval_length_prompts", host + activation_bytes(model, chunk, longest + 1, false)}};
}

Tensor IclLinregTask::loss_mask_for(const Tensor& inputs) const {
  const int64_t R = inputs.dim(0), B = inputs.dim(1), T = inputs.dim(2);
  std::vector<float> mask(R * B * T, 0.0f);
  for (int64_t row = 0; row < R * B; ++row) mask[row * T + T - 1] = 1.0f;
  return Tensor::from_vector<float>({R, B, T}, mask);
}

Batch IclLinregTask::sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
                            uint32_t step) const {
  const int64_t R = static_cast<int64_t>(replicas.size()), T = prompt_length_ + 1, K = sampler_.outputs(), W = d_ + K;
  std::vector<float> inputs(R * batch_size * T * W, 0.0f), targets(R * batch_size * T * K, 0.0f),
      mask(R * batch_size * T, 0.0f);
  for_example_chunks(R * batch_size, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t r = row / batch_size, b = row % batch_size;
      const Prompt p = sampler_.sample(Philox(replicas[r], stream, step), static_cast<uint64_t>(b), prompt_length_);
      write_prompt_tokens(p, &inputs[row * T * W]);
      for (int64_t k = 0; k < K; ++k) targets[(row * T + T - 1) * K + k] = static_cast<float>(p.y_query[k]);
      mask[row * T + T - 1] = 1.0f;
    }
  });
  return {Tensor::from_vector<float>({R, batch_size, T, W}, inputs),
          Tensor::from_vector<float>({R, batch_size, T, K}, targets), Tensor::from_vector<float>({R, batch_size, T}, mask), {}};
}

Task::EvaluationTensors IclLinregTask::evaluation_tensors(const Transformer& model, const Batch& batch) const {
  const Tensor outputs = model.forward(batch.inputs);  // (R, B, T, K)
  const int64_t T = outputs.dim(2);
  EvaluationTensors tensors{{"prediction", slice(outputs, 2, T - 1, T)}};  // (R, B, 1, K)
  if (model.config().n_layers == 1 && model.config().layer(0).attention) {
    tensors["kq"] = kq_circuits(model);  // (R, H, D, D)
    tensors["ov"] = ov_circuits(model);  // (R, H, D, K)
  }
  return tensors;
}

void IclLinregTask::write_dump_analyses(const Transformer& model,
                                        const std::vector<std::filesystem::path>& dump_dirs) const {
  write_length_sweep(model, sampler_, sweep_, dump_dirs);
}

std::vector<Metrics> IclLinregTask::summarize(const EvaluationTensors& t, const Batch& batch) const {
  const int64_t R = batch.inputs.dim(0), B = batch.inputs.dim(1), T = batch.inputs.dim(2);
  const int K = sampler_.outputs();
  const std::vector<float> predictions = t.at("prediction").to_vector<float>();  // (R, B, 1, K)
  const std::vector<float> inputs = batch.inputs.to_vector<float>(), targets = batch.targets.to_vector<float>();
  const double noise = sampler_.noise_variance(), m = sampler_.support_size(), L = static_cast<double>(T - 1);
  const double omega = 1.0 / std::sqrt(m), mu = std::sqrt(m) / (1.0 + (1.0 + noise) * m * std::numbers::e / L);

  std::vector<Metrics> metrics(R);
  for (int64_t r = 0; r < R; ++r) {
    const std::vector<Prompt> prompts = prompts_of(&inputs[r * B * T * (d_ + K)], &targets[r * B * T * K], B, T, d_, K);
    // Every (prompt, output) pair is one sample; with one output that is every prompt.
    std::vector<double> model, ridge, least_squares, gd, debiased, kernel, y;
    std::vector<std::vector<double>> model_of(K), y_of(K);
    for (int64_t b = 0; b < B; ++b)
      for (int k = 0; k < K; ++k) {
        const Prompt p = prompts[b].output(k);
        const double prediction = predictions[(r * B + b) * K + k];
        model.push_back(prediction);
        model_of[k].push_back(prediction);
        ridge.push_back(ridge_prediction(p, sampler_.ridge_lambda()));
        least_squares.push_back(ridge_prediction(p, 0.0));
        gd.push_back(gd_direction(p));
        debiased.push_back(debiased_gd_direction(p));
        kernel.push_back(kernel_head_prediction(p, omega, mu));
        y.push_back(p.y_query[0]);
        y_of[k].push_back(p.y_query[0]);
      }
    const FittedStep gd_fit = fit_step(gd, y), debiased_fit = fit_step(debiased, y);
    Metrics& metric = metrics[r];
    metric["eval_mse"] = mean_squared_error(model, y);
    if (K > 1)
      for (int k = 0; k < K; ++k) metric["eval_mse.y" + std::to_string(k + 1)] = mean_squared_error(model_of[k], y_of[k]);
    metric["baseline_mse.ridge"] = mean_squared_error(ridge, y);
    metric["baseline_mse.least_squares"] = mean_squared_error(least_squares, y);
    metric["baseline_mse.gd"] = gd_fit.mse;
    metric["baseline_mse.debiased_gd"] = debiased_fit.mse;
    if (K == 1 && sampler_.default_prior()) metric["baseline_mse.kernel_head"] = mean_squared_error(kernel, y);
    metric["gd_step"] = gd_fit.eta;
    metric["debiased_gd_step"] = debiased_fit.eta;
    metric["debiased_gd_corr"] = correlation(model, debiased);
  }
  if (t.count("kq")) add_circuit_metrics(t.at("kq"), t.at("ov"), d_, metrics);
  return metrics;
}

}  // namespace mechlab
