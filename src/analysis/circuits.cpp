#include "analysis/circuits.h"

#include <Eigen/Dense>
#include <stdexcept>
#include <string>

#include "autograd/grad_mode.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const Matrix>;

// "blocks.<layer>.attn.", after checking the layer has attention parameters to read.
std::string attention_prefix(const Transformer& model, int layer, const char* caller) {
  const TransformerConfig& c = model.config();
  if (layer < 0 || layer >= c.n_layers)
    throw std::invalid_argument(std::string(caller) + ": layer " + std::to_string(layer) + " is out of range (model has " +
                                std::to_string(c.n_layers) + ")");
  if (!c.layer(layer).attention)
    throw std::invalid_argument(std::string(caller) + ": layer " + std::to_string(layer) +
                                " has no attention (model.attention_layers)");
  return "blocks." + std::to_string(layer) + ".attn.";
}
}  // namespace

Tensor head_qk(const Transformer& model, int layer) {
  const std::string prefix = attention_prefix(model, layer, "head_qk");
  // (R, H, D, E) @ (R, H, D, E)^T -> (R, H, D, D)
  return matmul(model.parameter(prefix + "W_Q"), model.parameter(prefix + "W_K"), false, true,
                model.config().score_scale());
}

Tensor head_ov(const Transformer& model, int layer) {
  const std::string prefix = attention_prefix(model, layer, "head_ov");
  return matmul(model.parameter(prefix + "W_V"), model.parameter(prefix + "W_O"));  // (R, H, D, D_out)
}

Tensor full_ov_circuits(const Transformer& model, int layer) {
  const TransformerConfig& c = model.config();
  if (c.input != InputKind::tokens || c.output != OutputKind::logits)
    throw std::invalid_argument("full_ov_circuits: needs a token model with logits output (W_E and W_U)");
  attention_prefix(model, layer, "full_ov_circuits");
  NoGradGuard no_grad;
  // In double on the host, whatever the model's dtype: eigenvalues of products of f32 weights lose digits.
  const std::string prefix = "blocks." + std::to_string(layer) + ".attn.";
  const std::vector<double> W_E = model.parameter("embed.W_E").to_vector<double>();      // (R, V, D)
  const std::vector<double> W_V = model.parameter(prefix + "W_V").to_vector<double>();   // (R, H, D, E)
  const std::vector<double> W_O = model.parameter(prefix + "W_O").to_vector<double>();   // (R, H, E, D)
  const std::vector<double> W_U = model.parameter("unembed.W_U").to_vector<double>();    // (R, D, V)
  const int64_t R = model.replicas(), H = c.n_heads, V = c.d_vocab, D = c.d_model, E = c.head_width();
  std::vector<double> circuits(R * H * V * V);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t h = 0; h < H; ++h) {
      const int64_t rh = r * H + h;
      const Matrix full = ConstMap(W_E.data() + r * V * D, V, D) * ConstMap(W_V.data() + rh * D * E, D, E) *
                          ConstMap(W_O.data() + rh * E * D, E, D) * ConstMap(W_U.data() + r * D * V, D, V);
      Eigen::Map<Matrix>(circuits.data() + rh * V * V, V, V) = full;
    }
  return Tensor::from_vector<double>({R, H, V, V}, circuits);
}

Tensor ov_copy_scores(const Transformer& model, int layer) {
  const Tensor full = full_ov_circuits(model, layer);  // (R, H, V, V)
  const int64_t R = full.dim(0), H = full.dim(1), V = full.dim(2);
  const double* values = full.data<double>();
  std::vector<double> scores(R * H);
  for (int64_t rh = 0; rh < R * H; ++rh) {
    const Eigen::VectorXcd eigenvalues = Eigen::EigenSolver<Matrix>(ConstMap(values + rh * V * V, V, V), false).eigenvalues();
    // The eigenvalues come in conjugate pairs, so their sum is real (the trace).
    scores[rh] = eigenvalues.sum().real() / eigenvalues.cwiseAbs().sum();
  }
  return Tensor::from_vector<double>({R, H}, scores);
}

}  // namespace mechlab
