// Activation patching with TransformerLens' families and shapes: run the corrupted batch and patch in one
// activation of the clean run at a time (denoising; "direction": "noising" runs clean and patches corrupted):
// by layer and position [L, T] (resid_pre/mid/post, attn_out, mlp_out), by head and position [L, T, H] and by
// head over every position [L, H] (z, q, k, v, pattern). Every index is one slot of a batched pass.
#include <fmt/format.h>

#include <cmath>

#include "analysis/components.h"
#include "analysis/kinds.h"
#include "config/config_error.h"

namespace mechlab {

namespace {
class ActivationPatching final : public Analysis {
 public:
  ActivationPatching(const SpecReader& entry, const SpecTarget& target) : metric_(entry_metric(entry, target)) {
    entry.only({"name", "kind", "metric", "family", "by", "direction"});
    family_ = entry.choice("family", patching_families(), "resid_pre");
    const bool heads = is_head_family(family_);
    by_ = entry.choice("by", heads ? std::vector<std::string>{"head_position", "head"} : std::vector<std::string>{"position"},
                       heads ? "head_position" : "position");
    noising_ = entry.choice("direction", {"denoising", "noising"}, "denoising") == "noising";
    L_ = target.model.n_layers;
    T_ = target.positions;
    H_ = heads ? target.model.n_heads : 1;
    if (!target.has_contrast) throw ConfigError(entry.at("kind"), kNeedsContrast);
  }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const TransformerConfig& config = ctx.model.config();
    const Batch& base = noising_ ? ctx.contrast.clean : ctx.contrast.corrupted;
    const Batch& source_batch = noising_ ? ctx.contrast.corrupted : ctx.contrast.clean;
    std::vector<std::string> hooks(L_);
    std::vector<std::string> present;
    for (int l = 0; l < L_; ++l) {
      hooks[l] = family_hook(family_, l, config);
      if (!hooks[l].empty()) present.push_back(hooks[l]);
    }
    const auto source = ctx.cache(source_batch, present);
    const bool per_position = by_ != "head", per_head = by_ != "position";
    const int64_t per_layer = (per_position ? T_ : 1) * (per_head ? H_ : 1);
    const std::vector<double> values = ctx.patched_runs(metric_, base, L_ * per_layer, [&](SlotPatches& p, int64_t slot, int64_t i) {
      const int l = static_cast<int>(i / per_layer);
      if (hooks[l].empty()) return;  // the layer has no such activation: the slot runs unpatched, reported as NaN
      const int64_t t = per_position ? (i % per_layer) / (per_head ? H_ : 1) : -1;
      Where where;
      if (per_position) where.position = [t](int64_t, int64_t position) { return position == t; };
      if (per_head) where.heads = {static_cast<int>(i % H_)};
      p.take(slot, p.source(hooks[l], source.at(hooks[l])), where);
    });
    const std::vector<double> clean = ctx.baseline(metric_, ctx.contrast.clean);
    const std::vector<double> corrupted = ctx.baseline(metric_, ctx.contrast.corrupted);
    std::vector<double> raw = values;
    for (int64_t r = 0; r < ctx.model.replicas(); ++r)
      for (int64_t i = 0; i < L_ * per_layer; ++i)
        if (hooks[i / per_layer].empty()) raw[r * L_ * per_layer + i] = std::nan("");
    std::vector<int64_t> dims{ctx.model.replicas(), L_};  // TransformerLens: [L, T], [L, T, H], [L, H]
    if (per_position) dims.push_back(T_);
    if (per_head) dims.push_back(H_);
    AnalysisResult result;
    result.arrays["metric"] = host_array(dims, raw);
    result.arrays["normalised"] = host_array(dims, normalised(raw, clean, corrupted));
    result.table["method"] = {{"kind", "activation_patching"}, {"family", family_}, {"by", by_},
                              {"direction", noising_ ? "noising" : "denoising"}, {"metric", metric_.name},
                              {"corruption", ctx.contrast.description},
                              {"shape", per_head ? (per_position ? "[L, T, H]" : "[L, H]") : "[L, T]"}};
    result.table["baseline"] = {{"clean", clean}, {"corrupted", corrupted}};
    return result;
  }

 private:
  AnalysisMetric metric_;
  std::string family_, by_;
  bool noising_ = false;
  int64_t L_ = 0, T_ = 0, H_ = 1;
};
}  // namespace

std::unique_ptr<Analysis> make_activation_patching(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<ActivationPatching>(entry, target);
}

}  // namespace mechlab
