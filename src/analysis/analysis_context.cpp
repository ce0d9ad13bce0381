// The shared machinery of the analysis kinds: caching a run, baselines, and chunked slot passes.
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "analysis/analysis.h"
#include "autograd/grad_mode.h"
#include "config/config_error.h"
#include "config/value_check.h"
#include "ops/ops.h"

namespace mechlab {

std::map<std::string, Tensor> AnalysisContext::cache(const Batch& batch, const std::vector<std::string>& hooks) const {
  NoGradGuard no_grad;
  ActivationHooks recorder;
  if (hooks.empty()) recorder.capture_all();
  for (const std::string& hook : hooks) recorder.capture(hook);
  std::map<std::string, Tensor> cached;
  cached["output"] = model.forward(batch.inputs, &recorder);
  for (const auto& [name, value] : recorder.captured()) cached[name] = value;
  return cached;
}

std::vector<double> AnalysisContext::baseline(const AnalysisMetric& metric, const Batch& batch) const {
  NoGradGuard no_grad;
  return slot_values(example_metric(metric, model.forward(batch.inputs), batch, model.config()), 1);
}

std::vector<double> AnalysisContext::patched_runs(const AnalysisMetric& metric, const Batch& base, int64_t count,
                                                  const Fill& fill, const Prepare& prepare) const {
  NoGradGuard no_grad;
  const TransformerConfig& c = model.config();
  const int64_t R = model.replicas(), B = base.inputs.dim(1), T = base.inputs.dim(2);
  // What the slot passes take from the base run: each computes only the layers and positions its patches
  // can reach (nn/transformer.h's window), so patching late layers or positions costs less.
  std::vector<std::string> reused;
  for (int l = 0; l < c.n_layers; ++l) {
    reused.push_back(fmt::format("blocks.{}.hook_resid_pre", l));
    if (c.layer(l).attention)
      for (const char* kvz : {"k", "v", "z"}) reused.push_back(fmt::format("blocks.{}.attn.hook_{}", l, kvz));
  }
  const std::map<std::string, Tensor> base_run = cache(base, reused);
  ForwardWindow window;
  window.output = base_run.at("output");
  for (int l = 0; l < c.n_layers; ++l) {
    const bool attention = c.layer(l).attention;
    window.resid_pre.push_back(base_run.at(fmt::format("blocks.{}.hook_resid_pre", l)));
    window.keys.push_back(attention ? base_run.at(fmt::format("blocks.{}.attn.hook_k", l)) : Tensor());
    window.values.push_back(attention ? base_run.at(fmt::format("blocks.{}.attn.hook_v", l)) : Tensor());
    window.z.push_back(attention ? base_run.at(fmt::format("blocks.{}.attn.hook_z", l)) : Tensor());
  }
  // A metric read at one position per example needs the last layer there only, when no patch lies in it.
  const bool at_one_position = metric.kind != MetricKind::loss && model.supports_one_position();
  Tensor query_select, key_mask;
  if (at_one_position) {
    const std::vector<int32_t> at = base.annotations.position(metric.position).to_vector<int32_t>();  // (R, B)
    std::vector<double> select(R * B * T, 0.0), mask(R * B * T, 0.0);
    for (int64_t e = 0; e < R * B; ++e) {
      select[e * T + at[e]] = 1.0;
      for (int64_t t = at[e] + 1; t < T; ++t) mask[e * T + t] = -std::numeric_limits<double>::infinity();
    }
    query_select = Tensor::from_vector<double>({R, B, 1, T}, select).to(model.dtype()).to(model.device());
    key_mask = Tensor::from_vector<double>({R, B, 1, 1, T}, mask).to(model.dtype()).to(model.device());
  }
  std::vector<Tensor> chunk_metrics;
  Batch tiled_slots;
  for (int64_t first = 0; first < count; first += chunk) {
    const int64_t S = std::min(chunk, count - first);
    if (prepare) prepare(first, S);
    SlotPatches patches(c, R, S, B, T);
    for (int64_t s = 0; s < S; ++s) fill(patches, s, first + s);
    window.first_layer = patches.first_patched_layer();
    window.first_position = patches.first_patched_position();
    window.from_z = c.layer(window.first_layer).attention && patches.patches_after_attention(window.first_layer);
    // Patches after a layer's attention change their own positions only: in that layer, the later ones
    // are the base run's (when no patch lies in a later layer, whose hooks see every later position).
    window.last_position = window.from_z && patches.patches_in_one_layer() ? patches.last_patched_position() : -1;
    ActivationHooks hooks;
    patches.install(hooks, window.first_position, window.last_position < 0 ? -1 : window.last_position + 1);
    if (!tiled_slots.inputs.defined() || tiled_slots.inputs.dim(1) != S * B) tiled_slots = tiled(base, S);  // as the last chunk's
    const bool one_position = at_one_position && patches.patches_before(c.n_layers - 1);
    window.query_select = one_position ? query_select : Tensor();
    window.key_mask = one_position ? key_mask : Tensor();
    const Tensor out = model.forward(tiled_slots.inputs, &hooks, window);
    const ExampleMetric m = one_position ? example_metric_at(metric, reshape(out, {R, S * B, out.dim(3)}), tiled_slots)
                                         : example_metric(metric, out, tiled_slots, c);
    // Read once at the end: the host prepares the next chunk while the device runs this one.
    chunk_metrics.push_back(slot_metric(m, S));
  }
  return concat(chunk_metrics, 1).to_vector<double>();  // (R, count)
}

const AnalysisMetric& entry_metric(const SpecReader& entry, const SpecTarget& target) {
  const auto& roles = target.position_roles;
  auto readable = [&](const AnalysisMetric& m) {
    return m.position.empty() || std::find(roles.begin(), roles.end(), m.position) != roles.end();
  };
  if (!entry.has("metric")) {  // the task's first metric this batch can score
    for (const AnalysisMetric& m : target.metrics)
      if (readable(m)) return m;
    throw ConfigError(entry.at("metric"), "this task offers no analysis metric for this batch");
  }
  const AnalysisMetric& metric = find_metric(target.metrics, entry.string("metric", ""), entry.at("metric"));
  if (!readable(metric))
    throw ConfigError(entry.at("metric"), fmt::format("'{}' reads position '{}', which this spec's batch does not name; "
                                                      "use \"batch\": \"contrast\" or a loss metric",
                                                      metric.name, metric.position));
  return metric;
}

std::vector<double> normalised(const std::vector<double>& values, const std::vector<double>& clean,
                               const std::vector<double>& corrupted) {
  const size_t R = clean.size(), per_replica = values.size() / R;
  std::vector<double> out(values.size());
  for (size_t r = 0; r < R; ++r)
    for (size_t i = 0; i < per_replica; ++i)
      out[r * per_replica + i] = (values[r * per_replica + i] - corrupted[r]) / (clean[r] - corrupted[r]);
  return out;
}

Where PositionChoice::where(const Batch& batch) const {
  Where w;
  if (!role.empty()) {
    const std::vector<int32_t> at = batch.annotations.position(role).to_vector<int32_t>();
    w.position = [at](int64_t example, int64_t t) { return at[example] == t; };
    w.per_example = true;
  } else if (!listed.empty()) {
    const std::vector<int64_t> positions = listed;
    w.position = [positions](int64_t, int64_t t) { return std::find(positions.begin(), positions.end(), t) != positions.end(); };
  }
  return w;
}

nlohmann::json PositionChoice::describe() const {
  if (!role.empty()) return role;
  if (!listed.empty()) return listed;
  return "all";
}

PositionChoice parse_positions(const SpecReader& entry, const SpecTarget& target) {
  PositionChoice choice;
  if (!entry.has("positions")) return choice;
  const nlohmann::json& value = entry.raw("positions");
  if (value.is_string()) {
    const std::string text = value.get<std::string>();
    if (text == "all") return choice;
    if (std::find(target.position_roles.begin(), target.position_roles.end(), text) == target.position_roles.end()) {
      const std::string roles = target.position_roles.empty() ? "" : ", " + config_detail::joined(target.position_roles);
      throw ConfigError(entry.at("positions"),
                        fmt::format("'{}' is not a position the task names; use \"all\"{}, or a list of positions", text, roles));
    }
    choice.role = text;
    return choice;
  }
  if (!value.is_array() || value.empty())
    throw ConfigError(entry.at("positions"), "must be \"all\", a role of the task's annotations, or a list of positions");
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string at = fmt::format("{}[{}]", entry.at("positions"), i);
    if (!value[i].is_number_integer()) throw ConfigError(at, "must be an integer position");
    const int64_t t = value[i].get<int64_t>();
    if (t < 0 || t >= target.positions)
      throw ConfigError(at, fmt::format("is {}; the task's sequences have positions 0..{}", t, target.positions - 1));
    choice.listed.push_back(t);
  }
  return choice;
}

Tensor host_array(const std::vector<int64_t>& dims, const std::vector<double>& values) {
  return Tensor::from_vector<double>(Shape(dims.begin(), dims.end()), values);
}

}  // namespace mechlab
