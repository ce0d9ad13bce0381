#include "tasks/icl_linreg/icl_linreg_task.h"

#include <cmath>
#include <numbers>

#include "ops/ops.h"
#include "tasks/icl_linreg/baselines.h"
#include "tasks/icl_linreg/circuits.h"

namespace mechlab {

namespace {
double rho_of(const nlohmann::json& options) {
  return options["covariance"] == "toeplitz" ? options["rho"].get<double>() : 0.0;
}

// The prompts of one replica back from a host batch: inputs (B, T, d + 1), targets (B, T, 1).
std::vector<Prompt> prompts_of(const float* inputs, const float* targets, int64_t B, int64_t T, int d) {
  std::vector<Prompt> prompts;
  for (int64_t b = 0; b < B; ++b) prompts.push_back(read_prompt_tokens(inputs + b * T * (d + 1), T, d, targets[b * T + T - 1]));
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

// Per head h: omega.Hh, kq_diag_spread.Hh, kq_offdiag_ratio.Hh, mu.Hh, ov_last_ratio.Hh; and mu_sum.
void add_circuit_metrics(const Tensor& kq_tensor, const Tensor& ov_tensor, std::vector<Metrics>& metrics) {
  const int64_t R = kq_tensor.dim(0), H = kq_tensor.dim(1), D = kq_tensor.dim(2);
  const std::vector<float> kq = kq_tensor.to_vector<float>(), ov = ov_tensor.to_vector<float>();
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

IclLinregTask::IclLinregTask(const nlohmann::json& options)
    : d_(options["d"]),
      prompt_length_(options["prompt_length"]),
      sampler_(options["d"].get<int>(), options["noise_variance"].get<double>(), rho_of(options)),
      sweep_{options["eval_lengths"].get<std::vector<int64_t>>(), options["eval_length_prompts"].get<int64_t>()} {}

Schema IclLinregTask::options() {
  Schema s;
  s.integer("d", 5, "Dimension of x; tokens are [x; y], d + 1 wide.", 1, 1023);
  s.integer("prompt_length", 40, "Context pairs L before the query.", 1, 1 << 20);
  s.number("noise_variance", 0.1, "sigma^2 of the label noise (the floor of the query MSE).", 0.0, 1e6, false);
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
  model["output"] = "readout";
  require_model_value(model, "d_input", d_ + 1, "icl_linreg tokens are [x; y] with x of width task.d");
  require_model_value(model, "d_output", 1, "icl_linreg predicts one number");
  if (model["n_ctx"].get<int64_t>() == 0) model["n_ctx"] = prompt_length_ + 1;
}

Batch IclLinregTask::sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
                            uint32_t step) const {
  const int64_t R = static_cast<int64_t>(replicas.size()), T = prompt_length_ + 1, W = d_ + 1;
  std::vector<float> inputs(R * batch_size * T * W, 0.0f), targets(R * batch_size * T, 0.0f),
      mask(R * batch_size * T, 0.0f);
  for (int64_t r = 0; r < R; ++r) {
    const Philox rng(replicas[r], stream, step);
    for (int64_t b = 0; b < batch_size; ++b) {
      const Prompt p = sampler_.sample(rng, static_cast<uint64_t>(b), prompt_length_);
      const int64_t row = r * batch_size + b;
      write_prompt_tokens(p, &inputs[row * T * W]);
      targets[row * T + T - 1] = static_cast<float>(p.y_query);
      mask[row * T + T - 1] = 1.0f;
    }
  }
  return {Tensor::from_vector<float>({R, batch_size, T, W}, inputs),
          Tensor::from_vector<float>({R, batch_size, T, 1}, targets), Tensor::from_vector<float>({R, batch_size, T}, mask)};
}

Task::EvaluationTensors IclLinregTask::evaluation_tensors(const Transformer& model, const Batch& batch) const {
  const Tensor outputs = model.forward(batch.inputs);  // (R, B, T, 1)
  const int64_t T = outputs.dim(2);
  EvaluationTensors tensors{{"prediction", slice(outputs, 2, T - 1, T)}};  // (R, B, 1, 1)
  if (model.config().n_layers == 1 && model.config().layer(0).attention) {
    tensors["kq"] = kq_circuits(model);  // (R, H, D, D)
    tensors["ov"] = ov_circuits(model);  // (R, H, D)
  }
  return tensors;
}

void IclLinregTask::write_dump_analyses(const Transformer& model,
                                        const std::vector<std::filesystem::path>& dump_dirs) const {
  write_length_sweep(model, sampler_, sweep_, dump_dirs);
}

std::vector<Metrics> IclLinregTask::summarize(const EvaluationTensors& t, const Batch& batch) const {
  const int64_t R = batch.inputs.dim(0), B = batch.inputs.dim(1), T = batch.inputs.dim(2);
  const std::vector<float> predictions = t.at("prediction").to_vector<float>();
  const std::vector<float> inputs = batch.inputs.to_vector<float>(), targets = batch.targets.to_vector<float>();
  const double noise = sampler_.noise_variance(), d = d_, L = static_cast<double>(T - 1);
  const double omega = 1.0 / std::sqrt(d), mu = std::sqrt(d) / (1.0 + (1.0 + noise) * d * std::numbers::e / L);

  std::vector<Metrics> metrics(R);
  for (int64_t r = 0; r < R; ++r) {
    const std::vector<Prompt> prompts = prompts_of(&inputs[r * B * T * (d_ + 1)], &targets[r * B * T], B, T, d_);
    std::vector<double> model, ridge, least_squares, gd, debiased, kernel, y;
    for (int64_t b = 0; b < B; ++b) {
      const Prompt& p = prompts[b];
      model.push_back(predictions[r * B + b]);
      ridge.push_back(ridge_prediction(p, noise * d));
      least_squares.push_back(ridge_prediction(p, 0.0));
      gd.push_back(gd_direction(p));
      debiased.push_back(debiased_gd_direction(p));
      kernel.push_back(kernel_head_prediction(p, omega, mu));
      y.push_back(p.y_query);
    }
    const FittedStep gd_fit = fit_step(gd, y), debiased_fit = fit_step(debiased, y);
    Metrics& m = metrics[r];
    m["eval_mse"] = mean_squared_error(model, y);
    m["baseline_mse.ridge"] = mean_squared_error(ridge, y);
    m["baseline_mse.least_squares"] = mean_squared_error(least_squares, y);
    m["baseline_mse.gd"] = gd_fit.mse;
    m["baseline_mse.debiased_gd"] = debiased_fit.mse;
    m["baseline_mse.kernel_head"] = mean_squared_error(kernel, y);
    m["gd_step"] = gd_fit.eta;
    m["debiased_gd_step"] = debiased_fit.eta;
    m["debiased_gd_corr"] = correlation(model, debiased);
  }
  if (t.count("kq")) add_circuit_metrics(t.at("kq"), t.at("ov"), metrics);
  return metrics;
}

}  // namespace mechlab
