// The shared machinery of the analysis kinds: caching a run, baselines, and chunked slot passes.
#include <fmt/format.h>

#include <algorithm>

#include "analysis/analysis.h"
#include "autograd/grad_mode.h"
#include "config/config_error.h"
#include "config/value_check.h"

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
  const int64_t R = model.replicas(), B = base.inputs.dim(1), T = base.inputs.dim(2);
  std::vector<double> values(R * count);
  for (int64_t first = 0; first < count; first += chunk) {
    const int64_t S = std::min(chunk, count - first);
    if (prepare) prepare(first, S);
    SlotPatches patches(model.config(), R, S, B, T);
    for (int64_t s = 0; s < S; ++s) fill(patches, s, first + s);
    ActivationHooks hooks;
    patches.install(hooks);
    const Batch slots = tiled(base, S);
    const std::vector<double> chunk_values =
        slot_values(example_metric(metric, model.forward(slots.inputs, &hooks), slots, model.config()), S);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t s = 0; s < S; ++s) values[r * count + first + s] = chunk_values[r * S + s];
  }
  return values;
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
