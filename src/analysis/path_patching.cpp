// Exact path patching (Wang et al. 2022): the effect of sender heads on the metric through chosen receivers
// only. Pass 1 runs the base batch with the senders' outputs (hook_z) taken from the other batch and every
// other head and MLP frozen at its base value; the receivers' inputs of that pass (a head's q, k or v) are
// patched into pass 2, a base run where everything else is computed as usual. With "receivers": "logits", the
// metric of pass 1 itself (the senders' direct path, through the final LayerNorm exactly). Noising by default
// (base clean, senders corrupted), as Wang et al.; no receivers leaves the base run as it is.
#include <fmt/format.h>

#include "analysis/components.h"
#include "analysis/kinds.h"
#include "config/config_error.h"

namespace mechlab {

namespace {
struct Receiver {
  Component head;
  std::string input;  // q, k, v
  std::string hook() const { return fmt::format("blocks.{}.attn.hook_{}", head.layer, input); }
};

class PathPatching final : public Analysis {
 public:
  PathPatching(const SpecReader& entry, const SpecTarget& target) : metric_(entry_metric(entry, target)) {
    entry.only({"name", "kind", "metric", "senders", "receivers", "direction"});
    if (!target.has_contrast) throw ConfigError(entry.at("kind"), kNeedsContrast);
    denoising_ = entry.choice("direction", {"noising", "denoising"}, "noising") == "denoising";
    const nlohmann::json senders = entry.has("senders") ? entry.raw("senders") : nlohmann::json("heads");
    if (senders == "heads") {
      for (const Component& head : every_head(target.model)) sender_sets_.push_back({head});
      grid_ = true;
    } else if (senders.is_array() && !senders.empty()) {
      const bool nested = senders[0].is_array();
      for (size_t i = 0; i < senders.size(); ++i) {
        const std::string at = fmt::format("{}[{}]", entry.at("senders"), i);
        const nlohmann::json set = nested ? senders[i] : nlohmann::json::array({senders[i]});
        if (!set.is_array() || set.empty()) throw ConfigError(at, "must be a non-empty list of heads such as [\"L0H1\"]");
        std::vector<Component> heads;
        for (size_t j = 0; j < set.size(); ++j) {
          const std::string at_j = nested ? fmt::format("{}[{}]", at, j) : at;
          if (!set[j].is_string()) throw ConfigError(at_j, "must be a head such as \"L0H1\"");
          Component c = parse_component(set[j].get<std::string>(), target.model, at_j);
          if (c.kind != Component::Kind::head) throw ConfigError(at_j, "senders are heads (L0H1), not layers or MLPs");
          heads.push_back(c);
        }
        if (nested) sender_sets_.push_back(heads);
        else if (sender_sets_.empty()) sender_sets_.push_back(heads);
        else sender_sets_[0].push_back(heads[0]);  // a flat list is one set
      }
    } else {
      throw ConfigError(entry.at("senders"), "must be \"heads\" (each head on its own), a list of heads, or a list of lists");
    }
    const nlohmann::json receivers = entry.has("receivers") ? entry.raw("receivers") : nlohmann::json("logits");
    if (receivers == "logits") {
      to_logits_ = true;
    } else if (receivers.is_array()) {
      for (size_t i = 0; i < receivers.size(); ++i) {
        const std::string at = fmt::format("{}[{}]", entry.at("receivers"), i);
        const nlohmann::json& r = receivers[i];
        if (!r.is_object() || !r.contains("head") || !r["head"].is_string())
          throw ConfigError(at, "must be {\"head\": \"L1H0\", \"input\": \"q\" | \"k\" | \"v\"}");
        SpecReader reader(r, at);
        reader.only({"head", "input"});
        Component head = parse_component(r["head"].get<std::string>(), target.model, at + ".head");
        if (head.kind != Component::Kind::head) throw ConfigError(at + ".head", "receivers are heads such as \"L1H0\"");
        receivers_.push_back({head, reader.choice("input", {"q", "k", "v"}, "q")});
      }
    } else {
      throw ConfigError(entry.at("receivers"), "must be \"logits\" or a list of {\"head\": ..., \"input\": ...}");
    }
  }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const TransformerConfig& config = ctx.model.config();
    const Batch& base = denoising_ ? ctx.contrast.corrupted : ctx.contrast.clean;
    const Batch& other = denoising_ ? ctx.contrast.clean : ctx.contrast.corrupted;
    struct Frozen {
      std::string hook;
      int layer;
      bool heads;  // hook_z: senders replace their own heads only
    };
    std::vector<Frozen> frozen;  // every head's and MLP's output
    std::vector<std::string> frozen_hooks;
    for (int l = 0; l < config.n_layers; ++l) {
      if (config.layer(l).attention) frozen.push_back({fmt::format("blocks.{}.attn.hook_z", l), l, true});
      if (config.layer(l).mlp && config.d_mlp > 0) frozen.push_back({fmt::format("blocks.{}.hook_mlp_out", l), l, false});
    }
    for (const Frozen& f : frozen) frozen_hooks.push_back(f.hook);
    const auto base_cache = ctx.cache(base, frozen_hooks), other_cache = ctx.cache(other, frozen_hooks);
    const int64_t count = static_cast<int64_t>(sender_sets_.size());
    // Pass 1 for slots [first, first + S): senders from the other batch, the rest frozen at the base values.
    auto pass_one = [&](SlotPatches& p, int64_t slot, int64_t index) {
      std::map<int, std::vector<int>> sender_heads;  // layer -> heads
      for (const Component& c : sender_sets_[index]) sender_heads[c.layer].push_back(c.head);
      for (const Frozen& f : frozen) {
        const std::vector<int> senders = f.heads ? sender_heads[f.layer] : std::vector<int>{};
        std::vector<int> others;
        if (f.heads)
          for (int h = 0; h < config.n_heads; ++h)
            if (std::find(senders.begin(), senders.end(), h) == senders.end()) others.push_back(h);
        if (!senders.empty()) p.take(slot, p.source(f.hook, other_cache.at(f.hook)), {nullptr, false, senders});
        if (!f.heads || !others.empty()) p.take(slot, p.source(f.hook, base_cache.at(f.hook)), {nullptr, false, others});
      }
    };
    std::vector<double> values;
    if (to_logits_) {
      values = ctx.patched_runs(metric_, base, count, pass_one);
    } else {
      // Before each chunk of pass 2, pass 1 of the same senders gives the receivers' inputs, per slot.
      std::map<std::string, Tensor> received;  // receiver hook -> (R, S*B, ...)
      auto run_pass_one = [&](int64_t first, int64_t S) {
        if (receivers_.empty()) return;  // patched_runs holds a NoGradGuard around this
        SlotPatches one(config, ctx.model.replicas(), S, base.inputs.dim(1), base.inputs.dim(2));
        for (int64_t s = 0; s < S; ++s) pass_one(one, s, first + s);
        ActivationHooks hooks;
        one.install(hooks);
        for (const Receiver& r : receivers_) hooks.capture(r.hook());
        ctx.model.forward(tiled(base, S).inputs, &hooks);
        for (const Receiver& r : receivers_) received[r.hook()] = hooks.get(r.hook());
      };
      values = ctx.patched_runs(metric_, base, count, [&](SlotPatches& p, int64_t slot, int64_t) {
        for (const Receiver& r : receivers_) p.take(slot, p.source(r.hook(), received.at(r.hook())), {nullptr, false, {r.head.head}});
      }, run_pass_one);
    }
    const std::vector<double> clean = ctx.baseline(metric_, ctx.contrast.clean);
    const std::vector<double> corrupted = ctx.baseline(metric_, ctx.contrast.corrupted);
    std::vector<int64_t> dims{ctx.model.replicas()};
    if (grid_) {
      dims.push_back(config.n_layers);
      dims.push_back(config.n_heads);
    } else {
      dims.push_back(count);
    }
    AnalysisResult result;
    std::vector<double> shaped = grid_ ? grid(values, ctx) : values;
    result.arrays["metric"] = host_array(dims, shaped);
    result.arrays["normalised"] = host_array(dims, normalised(shaped, clean, corrupted));
    nlohmann::json sets = nlohmann::json::array(), receivers = nlohmann::json::array();
    for (const auto& set : sender_sets_) {
      nlohmann::json names = nlohmann::json::array();
      for (const Component& c : set) names.push_back(c.label());
      sets.push_back(names);
    }
    for (const Receiver& r : receivers_) receivers.push_back({{"head", r.head.label()}, {"input", r.input}});
    result.table["method"] = {{"kind", "path_patching"}, {"direction", denoising_ ? "denoising" : "noising"},
                              {"senders", sets}, {"receivers", to_logits_ ? nlohmann::json("logits") : receivers},
                              {"frozen", "every other head's hook_z and every MLP's output at the base run's values"},
                              {"metric", metric_.name}, {"corruption", ctx.contrast.description}};
    result.table["baseline"] = {{"clean", clean}, {"corrupted", corrupted}};
    return result;
  }

 private:
  // Values per sender head (layers with attention only) laid out as [L, H], NaN for layers without attention.
  std::vector<double> grid(const std::vector<double>& values, const AnalysisContext& ctx) const {
    const TransformerConfig& c = ctx.model.config();
    const int64_t R = ctx.model.replicas(), count = static_cast<int64_t>(sender_sets_.size());
    std::vector<double> out(R * c.n_layers * c.n_heads, std::nan(""));
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < count; ++i) {
        const Component& head = sender_sets_[i][0];
        out[(r * c.n_layers + head.layer) * c.n_heads + head.head] = values[r * count + i];
      }
    return out;
  }

  AnalysisMetric metric_;
  std::vector<std::vector<Component>> sender_sets_;
  std::vector<Receiver> receivers_;
  bool to_logits_ = false, grid_ = false, denoising_ = false;
};
}  // namespace

std::unique_ptr<Analysis> make_path_patching(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<PathPatching>(entry, target);
}

}  // namespace mechlab
