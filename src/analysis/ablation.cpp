// Ablation: replace components' outputs by zero, their mean over the task's reference batch (or, with mean_by,
// over the reference examples with the same label, such as Wang et al.'s mean per template), or their value
// on another example of it (resample), and report the metric of the clean batch. "heads" ablates each head on
// its own (the leave-one-out table, [L, H]); "mlps" and "layers" each MLP or layer ([L]); a list ablates each
// listed component, or all of them at once with "together": true.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "analysis/analysis.h"
#include "analysis/components.h"
#include "analysis/kinds.h"
#include "config/config_error.h"
#include "config/value_check.h"
#include "ops/ops.h"

namespace mechlab {

namespace {
// The hooks whose activations make up a component's output, and the heads of them it owns.
std::vector<std::pair<std::string, std::vector<int>>> component_hooks(const Component& c, const TransformerConfig& config) {
  const std::string block = fmt::format("blocks.{}.", c.layer);
  switch (c.kind) {
    case Component::Kind::head:
      if (!config.layer(c.layer).attention) return {};
      return {{block + "attn.hook_z", {c.head}}};
    case Component::Kind::mlp: return {{block + "hook_mlp_out", {}}};
    case Component::Kind::layer: {
      std::vector<std::pair<std::string, std::vector<int>>> hooks;
      if (config.layer(c.layer).attention) hooks.push_back({block + "hook_attn_out", {}});
      if (config.layer(c.layer).mlp && config.d_mlp > 0) hooks.push_back({block + "hook_mlp_out", {}});
      return hooks;
    }
  }
  return {};
}

// x (R, B_ref, ...) over the reference batch -> (R, B, ...): for each base example, the mean over the reference
// examples that carry the same label as it. Each label's mean is summed once (in reference order), so the cost
// is (B_ref + B) x the example's size, not their product.
Tensor mean_by_label(const Tensor& x, const Tensor& reference_labels, const Tensor& base_labels, const std::string& label) {
  const int64_t R = x.dim(0), B_ref = x.dim(1), B = base_labels.dim(1), inner = x.numel() / (R * B_ref);
  const std::vector<double> values = x.to_vector<double>();
  const std::vector<int32_t> reference = reference_labels.to_vector<int32_t>(), base = base_labels.to_vector<int32_t>();
  std::vector<double> out(R * B * inner, 0.0);
  for (int64_t r = 0; r < R; ++r) {
    std::map<int32_t, std::vector<double>> means;  // label -> mean over its reference examples
    std::map<int32_t, int64_t> counts;
    for (int64_t j = 0; j < B_ref; ++j) {
      std::vector<double>& sum = means[reference[r * B_ref + j]];
      sum.resize(inner, 0.0);
      const double* from = &values[(r * B_ref + j) * inner];
      for (int64_t i = 0; i < inner; ++i) sum[i] += from[i];
      ++counts[reference[r * B_ref + j]];
    }
    for (auto& [value, sum] : means)
      for (double& v : sum) v /= static_cast<double>(counts[value]);
    for (int64_t b = 0; b < B; ++b) {
      const auto found = means.find(base[r * B + b]);
      if (found == means.end())
        throw ConfigError("mean_by", fmt::format("no reference example has the {} {} of a base example; use a larger "
                                                 "batch_size", label, base[r * B + b]));
      std::copy(found->second.begin(), found->second.end(), out.begin() + (r * B + b) * inner);
    }
  }
  Shape shape = x.shape();
  shape[1] = B;
  return Tensor::from_vector<double>(shape, out).to(x.dtype()).to(x.device());
}

class Ablation final : public Analysis {
 public:
  Ablation(const SpecReader& entry, const SpecTarget& target)
      : metric_(entry_metric(entry, target)), positions_(parse_positions(entry, target)) {
    entry.only({"name", "kind", "metric", "components", "value", "together", "positions", "mean_by"});
    value_ = entry.choice("value", {"zero", "mean", "resample"}, "zero");
    if (entry.has("mean_by")) {
      if (value_ != "mean") throw ConfigError(entry.at("mean_by"), "groups a mean ablation; set value to mean or remove mean_by");
      if (target.labels.empty()) throw ConfigError(entry.at("mean_by"), "this task's examples carry no labels; remove mean_by");
      mean_by_ = entry.choice("mean_by", target.labels, "");
    }
    together_ = entry.boolean("together", false);
    const nlohmann::json components = entry.has("components") ? entry.raw("components") : nlohmann::json("heads");
    if (components.is_string()) {
      const std::string which = components.get<std::string>();
      if (which == "heads") {
        table_shape_ = {target.model.n_layers, target.model.n_heads};
        for (int l = 0; l < target.model.n_layers; ++l)
          for (int h = 0; h < target.model.n_heads; ++h) components_.push_back({Component::Kind::head, l, h});
      } else if (which == "mlps" || which == "layers") {
        table_shape_ = {target.model.n_layers};
        for (int l = 0; l < target.model.n_layers; ++l)
          components_.push_back({which == "mlps" ? Component::Kind::mlp : Component::Kind::layer, l, 0});
      } else {
        throw ConfigError(entry.at("components"), fmt::format("'{}' is not heads, mlps, layers or a list such as "
                                                              "[\"L0H1\", \"L1.mlp\", \"L1\"]", which));
      }
    } else if (components.is_array() && !components.empty()) {
      for (size_t i = 0; i < components.size(); ++i) {
        const std::string at = fmt::format("{}[{}]", entry.at("components"), i);
        if (!components[i].is_string()) throw ConfigError(at, "must be a component name such as \"L0H1\"");
        components_.push_back(parse_component(components[i].get<std::string>(), target.model, at));
      }
      table_shape_ = {together_ ? 1 : static_cast<int64_t>(components_.size())};
    } else {
      throw ConfigError(entry.at("components"), "must be heads, mlps, layers or a non-empty list of components");
    }
  }
  bool needs_contrast() const override { return false; }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const TransformerConfig& config = ctx.model.config();
    const Batch& base = ctx.contrast.clean;
    std::vector<std::string> hooks;
    for (const Component& c : components_)
      for (const auto& [hook, heads] : component_hooks(c, config)) hooks.push_back(hook);
    // What each hook is replaced by: (R, B, ...) per example.
    const auto on_base = ctx.cache(base, hooks);
    std::map<std::string, Tensor> replacement;
    if (value_ != "zero") {
      const auto on_reference = ctx.cache(ctx.reference, hooks);
      for (const std::string& hook : hooks) {
        const Tensor& x = on_reference.at(hook);
        if (!mean_by_.empty())
          replacement[hook] = mean_by_label(x, ctx.reference.annotations.labels.at(mean_by_),
                                            base.annotations.labels.at(mean_by_), mean_by_);
        else
          replacement[hook] = value_ == "mean" ? broadcast_to(mean(x, {1}, true), on_base.at(hook).shape()) : x;
      }
    } else {
      for (const std::string& hook : hooks) replacement[hook] = scale(on_base.at(hook), 0.0);
    }
    const Where where = positions_.where(base);
    const int64_t count = together_ ? 1 : static_cast<int64_t>(components_.size());
    auto ablate = [&](SlotPatches& patches, int64_t slot, const Component& c) {
      for (const auto& [hook, heads] : component_hooks(c, config)) {
        Where w = where;
        w.heads = heads;
        patches.take(slot, patches.source(hook, replacement.at(hook)), w);
      }
    };
    const std::vector<double> values = ctx.patched_runs(metric_, base, count, [&](SlotPatches& p, int64_t slot, int64_t i) {
      if (together_)
        for (const Component& c : components_) ablate(p, slot, c);
      else
        ablate(p, slot, components_[i]);
    });
    const std::vector<double> clean = ctx.baseline(metric_, base);
    const int64_t R = ctx.model.replicas();
    AnalysisResult result;
    std::vector<int64_t> dims{R};
    dims.insert(dims.end(), table_shape_.begin(), table_shape_.end());
    std::vector<double> padded(R * numel_of(table_shape_), std::nan(""));  // layers without the component stay NaN
    std::vector<double> change(padded.size(), std::nan(""));
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < count; ++i) {
        const bool applies = together_ || !component_hooks(components_[i], config).empty();
        const int64_t at = r * (static_cast<int64_t>(padded.size()) / R) + i;
        if (applies) {
          padded[at] = values[r * count + i];
          change[at] = values[r * count + i] - clean[r];
        }
        rows.push_back({{"replica", r}, {"component", together_ ? labels() : components_[i].label()},
                        {"metric", applies ? nlohmann::json(padded[at]) : nlohmann::json(nullptr)},
                        {"change", applies ? nlohmann::json(change[at]) : nlohmann::json(nullptr)}});
      }
    result.arrays["metric"] = host_array(dims, padded);
    result.arrays["change"] = host_array(dims, change);
    const nlohmann::json mean_by = mean_by_.empty() ? nlohmann::json(nullptr) : nlohmann::json(mean_by_);
    result.table["method"] = {{"kind", "ablation"}, {"value", value_}, {"mean_by", mean_by}, {"positions", positions_.describe()},
                              {"together", together_}, {"metric", metric_.name},
                              {"components", together_ ? nlohmann::json(labels()) : nlohmann::json(table_shape_.size() == 2 ? "heads" : "listed")}};
    result.table["baseline"] = {{"clean", clean}};
    result.table["rows"] = rows;
    return result;
  }

 private:
  static int64_t numel_of(const std::vector<int64_t>& dims) {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
  }
  std::string labels() const {
    std::vector<std::string> names;
    for (const Component& c : components_) names.push_back(c.label());
    return config_detail::joined(names, "+");
  }

  AnalysisMetric metric_;
  PositionChoice positions_;
  std::string value_;
  std::string mean_by_;  // a label of the examples: the mean is taken per value of it
  bool together_ = false;
  std::vector<Component> components_;
  std::vector<int64_t> table_shape_;
};
}  // namespace

std::unique_ptr<Analysis> make_ablation(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<Ablation>(entry, target);
}

}  // namespace mechlab
