// The weight circuits of every head as an analysis (analysis/circuits.h): QK [L, H, D, D] and OV
// [L, H, D, out] (scale and parameterisation as the model computes them), and for token models the full OV
// circuit W_E W_V W_O W_U [L, H, V, V] with Elhage et al.'s copying score per head [L, H].
#include <fmt/format.h>

#include <cmath>

#include "analysis/circuits.h"
#include "analysis/attention_flow.h"
#include "analysis/kinds.h"
#include "config/config_error.h"

namespace mechlab {

namespace {
// Layer tensors (R, H, ...) stacked to (R, L, H, ...) on the host, NaN for layers without attention.
Tensor stack_layers(const TransformerConfig& c, int64_t R, const std::function<Tensor(int)>& of_layer) {
  Shape per_layer;
  std::vector<std::vector<double>> layers(c.n_layers);
  for (int l = 0; l < c.n_layers; ++l)
    if (c.layer(l).attention) {
      const Tensor t = of_layer(l);
      per_layer = Shape(t.shape().begin() + 1, t.shape().end());
      layers[l] = t.to_vector<double>();
    }
  int64_t size = 1;
  for (int64_t d : per_layer) size *= d;
  std::vector<double> values(R * c.n_layers * size, std::nan(""));
  for (int l = 0; l < c.n_layers; ++l)
    for (int64_t r = 0; r < R && !layers[l].empty(); ++r)
      std::copy(layers[l].begin() + r * size, layers[l].begin() + (r + 1) * size, values.begin() + (r * c.n_layers + l) * size);
  Shape shape{R, c.n_layers};
  shape.insert(shape.end(), per_layer.begin(), per_layer.end());
  return Tensor::from_vector<double>(shape, values);
}

class Circuits final : public Analysis {
 public:
  Circuits(const SpecReader& entry, const SpecTarget&) { entry.only({"name", "kind"}); }
  bool needs_contrast() const override { return false; }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const Transformer& m = ctx.model;
    const TransformerConfig& c = m.config();
    const int64_t R = m.replicas();
    AnalysisResult result;
    result.arrays["qk"] = stack_layers(c, R, [&](int l) { return head_qk(m, l); });
    result.arrays["ov"] = stack_layers(c, R, [&](int l) { return head_ov(m, l); });
    const bool tokens = c.input == InputKind::tokens && m.has_parameter("unembed.W_U") &&
                        m.parameter("blocks.0.attn.W_O").dim(3) == c.d_model;
    if (tokens) {
      result.arrays["full_ov"] = stack_layers(c, R, [&](int l) { return full_ov_circuits(m, l); });
      result.arrays["copy_score"] = stack_layers(c, R, [&](int l) { return ov_copy_scores(m, l); });
    }
    result.table["method"] = {{"kind", "circuits"},
                              {"qk", "score_scale * W_Q[h] W_K[h]^T (D x D)"},
                              {"ov", "W_V[h] W_O[h]"},
                              {"full_ov", tokens ? "W_E W_V[h] W_O[h] W_U, LayerNorms ignored" : "not a token model"},
                              {"copy_score", tokens ? "sum of eigenvalues / sum of their absolute values (Elhage et al. 2021)" : "not a token model"}};
    return result;
  }
};

class AttentionFlow final : public Analysis {
 public:
  AttentionFlow(const SpecReader& entry, const SpecTarget& target) {
    entry.only({"name", "kind", "examples"});
    examples_ = entry.integer("examples", 4, 1, 1024);
    for (int l = 0; l < target.model.n_layers; ++l)
      if (!target.model.layer(l).attention)
        throw ConfigError(entry.at("kind"), fmt::format("rollout and flow need attention in every layer; layer {} has none", l));
  }
  bool needs_contrast() const override { return false; }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const TransformerConfig& c = ctx.model.config();
    const Batch& batch = ctx.contrast.clean;
    const int64_t R = ctx.model.replicas(), B = batch.inputs.dim(1), T = batch.inputs.dim(2), H = c.n_heads;
    const int64_t N = std::min(examples_, B), L = c.n_layers;
    std::vector<std::string> hooks;
    for (int l = 0; l < L; ++l) hooks.push_back(fmt::format("blocks.{}.attn.hook_pattern", l));
    const auto cache = ctx.cache(batch, hooks);
    std::vector<std::vector<double>> patterns;
    for (const std::string& hook : hooks) patterns.push_back(cache.at(hook).to_vector<double>());
    std::vector<double> rollout, flow;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t b = 0; b < N; ++b) {
        std::vector<Tensor> layers;
        for (int l = 0; l < L; ++l) {
          const auto first = patterns[l].begin() + (r * B + b) * H * T * T;
          layers.push_back(Tensor::from_vector<double>({H, T, T}, std::vector<double>(first, first + H * T * T)));
        }
        const std::vector<double> ro = attention_rollout(layers).to_vector<double>(), fl = attention_flow(layers).to_vector<double>();
        rollout.insert(rollout.end(), ro.begin(), ro.end());
        flow.insert(flow.end(), fl.begin(), fl.end());
      }
    AnalysisResult result;
    result.arrays["rollout"] = host_array({R, N, L, T, T}, rollout);
    result.arrays["flow"] = host_array({R, N, T, T}, flow);
    result.table["method"] = {{"kind", "attention_flow"}, {"examples", N},
                              {"rollout", "A'_l = (mean_h A_l + I) / 2, rows renormalised; rollout_l = A'_l rollout_{l-1} (Abnar & Zuidema 2020)"},
                              {"flow", "max-flow from input position j to position i after the last layer, capacities A'_l"}};
    return result;
  }

 private:
  int64_t examples_ = 4;
};
}  // namespace

std::unique_ptr<Analysis> make_circuits(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<Circuits>(entry, target);
}

std::unique_ptr<Analysis> make_attention_flow(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<AttentionFlow>(entry, target);
}

}  // namespace mechlab
