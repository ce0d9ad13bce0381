// Direct logit attribution: what each head writes straight into the metric at the metric's position,
// o_h = z_h W_O[h] read through the final LayerNorm as TransformerLens' apply_ln_to_stack does (centred and
// divided by the clean run's scale there, times the LayerNorm weight) and then along the metric's direction
// (W_U[:, answer] - W_U[:, wrong] for logit_diff, W_U[:, answer] for a logit, the output channel for a
// readout). Per head [L, H] and split by the source position the head reads [L, H, T] (o_h = sum_s
// pattern[q, s] v_s W_O[h]), averaged over the clean batch, and per example [B, L, H]; biases and the other
// components are the remainder the table reports.
#include <fmt/format.h>

#include <Eigen/Dense>
#include <cmath>

#include "analysis/kinds.h"
#include "config/config_error.h"

namespace mechlab {

namespace {
class DirectAttribution final : public Analysis {
 public:
  DirectAttribution(const SpecReader& entry, const SpecTarget& target) : metric_(entry_metric(entry, target)) {
    entry.only({"name", "kind", "metric"});
    const bool readout_heads = target.model.output == OutputKind::heads;
    if (metric_.kind != MetricKind::logit_diff && metric_.kind != MetricKind::logit && metric_.kind != MetricKind::output)
      throw ConfigError(entry.at("metric"), "direct attribution reads a linear metric: a logit, a logit difference or an output");
    if (readout_heads && metric_.kind != MetricKind::output)
      throw ConfigError(entry.at("metric"), "this model's heads write its outputs; attribute an output metric");
  }
  bool needs_contrast() const override { return false; }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const TransformerConfig& c = ctx.model.config();
    const Batch& batch = ctx.contrast.clean;
    const int64_t R = ctx.model.replicas(), B = batch.inputs.dim(1), T = batch.inputs.dim(2), H = c.n_heads;
    const int64_t E = c.head_width(), L = c.n_layers;
    std::vector<std::string> hooks{fmt::format("blocks.{}.hook_resid_post", L - 1)};
    for (int l = 0; l < L; ++l)
      if (c.layer(l).attention) {
        hooks.push_back(fmt::format("blocks.{}.attn.hook_pattern", l));
        hooks.push_back(fmt::format("blocks.{}.attn.hook_v", l));
      }
    const auto cache = ctx.cache(batch, hooks);
    const std::vector<int32_t> position = batch.annotations.position(metric_.position).to_vector<int32_t>();
    const std::vector<double> final_resid = cache.at(hooks[0]).to_vector<double>();  // (R, B, T, W)
    const int64_t W = cache.at(hooks[0]).dim(3);
    const bool through_norm = c.output == OutputKind::logits && c.layernorm != LayerNormPlacement::none;
    // The metric's direction in the final residual per example, (R, B, W), LayerNorm weight included.
    std::vector<double> direction(R * B * W, 0.0);
    if (c.output == OutputKind::heads) {
      for (int64_t e = 0; e < R * B; ++e) direction[e * W + metric_.channel] = 1.0;
    } else {
      const std::vector<double> W_U = ctx.model.parameter("unembed.W_U").to_vector<double>();  // (R, D, V)
      const int64_t V = ctx.model.parameter("unembed.W_U").dim(2);
      std::vector<double> ln_w(R * W, 1.0);
      if (through_norm && ctx.model.has_parameter("ln_final.w")) ln_w = ctx.model.parameter("ln_final.w").to_vector<double>();
      const std::vector<int32_t> answer = batch.annotations.token(metric_.answer).to_vector<int32_t>();
      std::vector<int32_t> wrong(R * B, -1);
      if (metric_.kind == MetricKind::logit_diff) wrong = batch.annotations.token(metric_.wrong).to_vector<int32_t>();
      for (int64_t r = 0; r < R; ++r)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t d = 0; d < W; ++d) {
            const int64_t e = r * B + b;
            double u = W_U[(r * W + d) * V + answer[e]];  // a logit; a logit difference subtracts the wrong token's
            if (metric_.kind == MetricKind::logit_diff) u -= W_U[(r * W + d) * V + wrong[e]];
            direction[e * W + d] = u * ln_w[r * W + d];
          }
    }
    // The final LayerNorm's scale at each example's position, from the clean run (fixed, as in TransformerLens).
    std::vector<double> ln_scale(R * B, 1.0);
    if (through_norm)
      for (int64_t e = 0; e < R * B; ++e) {
        const double* x = &final_resid[(e * T + position[e]) * W];
        double mean = 0, var = 0;
        for (int64_t d = 0; d < W; ++d) mean += x[d] / W;
        for (int64_t d = 0; d < W; ++d) var += (x[d] - mean) * (x[d] - mean) / W;
        ln_scale[e] = std::sqrt(var + c.layernorm_eps);
      }
    std::vector<double> per_head(R * L * H, std::nan("")), per_source(R * L * H * T, std::nan(""));
    std::vector<double> per_example(R * B * L * H, std::nan(""));  // (R, B, L, H)
    for (int l = 0; l < L; ++l) {
      if (!c.layer(l).attention) continue;
      const std::vector<double> pattern = cache.at(fmt::format("blocks.{}.attn.hook_pattern", l)).to_vector<double>();  // (R, B, H, T, T)
      const std::vector<double> v = cache.at(fmt::format("blocks.{}.attn.hook_v", l)).to_vector<double>();              // (R, B, T, H, E)
      const Tensor& W_O_tensor = ctx.model.parameter(fmt::format("blocks.{}.attn.W_O", l));               // (R, H, E, out)
      const std::vector<double> W_O = W_O_tensor.to_vector<double>();
      const int64_t out = W_O_tensor.dim(3);
      if (out != W) continue;  // a head writing the outputs of a model whose last layer is not this one
      for (int64_t r = 0; r < R; ++r)
        for (int64_t h = 0; h < H; ++h) {
          // W_O[h] applied to the direction: the metric per unit of z (E), per example.
          std::vector<double> head_total(T, 0.0);
          for (int64_t b = 0; b < B; ++b) {
            double example_total = 0;
            const int64_t e = r * B + b, q = position[e];
            Eigen::VectorXd read(E);  // W_O[h] (centred) . direction / scale
            Eigen::VectorXd dir = Eigen::Map<const Eigen::VectorXd>(&direction[e * W], W);
            if (through_norm) dir = (dir.array() - dir.mean()).matrix();  // centring o is centring the direction
            for (int64_t i = 0; i < E; ++i) {
              double s = 0;
              for (int64_t d = 0; d < W; ++d) s += W_O[((r * H + h) * E + i) * out + d] * dir[d];
              read[i] = s / ln_scale[e];
            }
            for (int64_t src = 0; src <= q; ++src) {
              const double weight = pattern[(((r * B + b) * H + h) * T + q) * T + src];
              double dot = 0;
              for (int64_t i = 0; i < E; ++i) dot += v[(((r * B + b) * T + src) * H + h) * E + i] * read[i];
              head_total[src] += weight * dot / static_cast<double>(B);
              example_total += weight * dot;
            }
            per_example[((r * B + b) * L + l) * H + h] = example_total;
          }
          double total = 0;
          for (int64_t src = 0; src < T; ++src) {
            per_source[((r * L + l) * H + h) * T + src] = head_total[src];
            total += head_total[src];
          }
          per_head[(r * L + l) * H + h] = total;
        }
    }
    AnalysisResult result;
    result.arrays["per_head"] = host_array({R, L, H}, per_head);
    result.arrays["per_head_source"] = host_array({R, L, H, T}, per_source);
    result.arrays["per_example"] = host_array({R, B, L, H}, per_example);
    const std::vector<double> clean = ctx.baseline(metric_, batch);
    std::vector<double> heads_sum(R, 0.0);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < L * H; ++i)
        if (!std::isnan(per_head[r * L * H + i])) heads_sum[r] += per_head[r * L * H + i];
    result.table["method"] = {{"kind", "direct_attribution"}, {"metric", metric_.name}, {"position", metric_.position},
                              {"layernorm", through_norm ? "final LayerNorm scale fixed at the clean run's (apply_ln_to_stack)" : "none"}};
    result.table["baseline"] = {{"clean", clean}, {"heads_sum", heads_sum}};
    return result;
  }

 private:
  AnalysisMetric metric_;
};
}  // namespace

std::unique_ptr<Analysis> make_direct_attribution(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<DirectAttribution>(entry, target);
}

}  // namespace mechlab
