// Head importance (Michel et al. 2019): the gradient of the metric with respect to a gate on each head's
// output (z_h times g_h, at g = 1) on the clean batch, [L, H], beside the leave-one-out table: the metric with
// each head ablated alone (zero by default; "value": "mean" or "resample" as in ablation).
#include <fmt/format.h>

#include <cmath>

#include "analysis/kinds.h"
#include "config/config_error.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
class HeadImportance final : public Analysis {
 public:
  HeadImportance(const SpecReader& entry, const SpecTarget& target) : metric_(entry_metric(entry, target)) {
    entry.only({"name", "kind", "metric", "value"});
    if (metric_.kind == MetricKind::accuracy)
      throw ConfigError(entry.at("metric"), "accuracy has no gradient; use logit_diff, answer_loss, loss or an output");
    nlohmann::json ablation{{"kind", "ablation"}, {"components", "heads"}, {"metric", metric_.name},
                            {"value", entry.string("value", "zero")}};
    leave_one_out_ = make_ablation(SpecReader(ablation, entry.path()), target);
  }
  bool needs_contrast() const override { return false; }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const TransformerConfig& c = ctx.model.config();
    const int64_t R = ctx.model.replicas(), H = c.n_heads;
    const Batch& batch = ctx.contrast.clean;
    ActivationHooks hooks;
    std::map<int, Tensor> gates;
    for (int l = 0; l < c.n_layers; ++l) {
      if (!c.layer(l).attention) continue;
      Tensor gate = Tensor::full({R, 1, 1, H, 1}, 1.0, ctx.model.dtype(), ctx.model.device());
      gate.set_requires_grad(true);
      gates[l] = gate;
      hooks.replace(fmt::format("blocks.{}.attn.hook_z", l), [gate](const Tensor& z) { return mul(z, gate); });
    }
    const Tensor outputs = ctx.model.forward(batch.inputs, &hooks);
    sum(batch_metric(example_metric(metric_, outputs, batch, c)), {0}).backward();
    std::vector<double> gradient(R * c.n_layers * H, std::nan(""));
    for (const auto& [l, gate] : gates) {
      const std::vector<double> g = gate.grad().to_vector<double>();  // (R, H)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t h = 0; h < H; ++h) gradient[(r * c.n_layers + l) * H + h] = g[r * H + h];
    }
    for (const NamedParameter& p : ctx.model.parameters()) p.value.zero_grad();
    AnalysisResult result = leave_one_out_->run(ctx);
    result.arrays = {{"leave_one_out", result.arrays.at("metric")},
                     {"leave_one_out_change", result.arrays.at("change")},
                     {"gate_gradient", host_array({R, c.n_layers, H}, gradient)}};
    result.table["method"] = {{"kind", "head_importance"}, {"metric", metric_.name},
                              {"gradient", "d metric / d g_h at g = 1, g_h scaling head h's hook_z (Michel et al. 2019)"},
                              {"leave_one_out", result.table["method"]}};
    return result;
  }

 private:
  AnalysisMetric metric_;
  std::unique_ptr<Analysis> leave_one_out_;
};
}  // namespace

std::unique_ptr<Analysis> make_head_importance(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<HeadImportance>(entry, target);
}

}  // namespace mechlab
