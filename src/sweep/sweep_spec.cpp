// Reading a sweep spec: the base, the seeds, and the axes expanded into points (see sweep_spec.h).
#include "sweep/sweep_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "config/config_error.h"
#include "config/json_file.h"
#include "config/spec_reader.h"
#include "config/value_check.h"

namespace mechlab {

namespace {
using json = nlohmann::json;

// The values of one axis: a non-empty list, {"range": [start, stop(, step)]} (stop excluded) or
// {"log_range": [first, last, count]} (count values, evenly spaced in log, both ends included).
std::vector<json> axis_values(const json& v, const std::string& path) {
  if (v.is_array()) {
    if (v.empty()) throw ConfigError(path, "is an empty axis; give at least one value");
    return {v.begin(), v.end()};
  }
  if (!v.is_object() || v.size() != 1 || !(v.contains("range") || v.contains("log_range")))
    throw ConfigError(path, "must be a list of values, {\"range\": [start, stop, step]} or "
                            "{\"log_range\": [first, last, count]}");
  const bool log = v.contains("log_range");
  const std::string at = path + (log ? ".log_range" : ".range");
  const json& a = log ? v["log_range"] : v["range"];
  const bool sizes_ok = a.is_array() && (log ? a.size() == 3 : (a.size() == 2 || a.size() == 3));
  if (!sizes_ok) throw ConfigError(at, log ? "must be [first, last, count]" : "must be [start, stop] or [start, stop, step]");
  for (size_t i = 0; i < a.size(); ++i)
    if (!a[i].is_number()) throw ConfigError(fmt::format("{}[{}]", at, i), "must be a number");
  std::vector<json> values;
  if (log) {
    const double first = a[0].get<double>(), last = a[1].get<double>();
    if (!a[2].is_number_integer() || a[2].get<int64_t>() < 2) throw ConfigError(at + "[2]", "the count must be an integer >= 2");
    if (first <= 0 || last <= 0) throw ConfigError(at, "a log range needs first and last above 0");
    const int64_t n = a[2].get<int64_t>();
    for (int64_t i = 0; i < n; ++i)
      values.push_back(first * std::pow(last / first, static_cast<double>(i) / static_cast<double>(n - 1)));
    return values;
  }
  const bool integers = a[0].is_number_integer() && a[1].is_number_integer() && (a.size() == 2 || a[2].is_number_integer());
  const double start = a[0].get<double>(), stop = a[1].get<double>(), step = a.size() == 3 ? a[2].get<double>() : 1.0;
  if (step <= 0) throw ConfigError(at + "[2]", "the step must be above 0");
  for (int64_t i = 0; start + static_cast<double>(i) * step < stop - 1e-12 * std::abs(step); ++i) {
    const double x = start + static_cast<double>(i) * step;
    values.push_back(integers ? json(static_cast<int64_t>(std::llround(x))) : json(x));
  }
  if (values.empty()) throw ConfigError(at, "is an empty axis (stop is not above start)");
  return values;
}

std::vector<SweepPoint> block_points(const json& block, const std::string& path);

// The string at object[key] (path: its JSON path), required.
std::string required_text(const json& object, const std::string& key, const std::string& path) {
  if (!object.contains(key)) throw ConfigError(path, "is missing");
  if (!object[key].is_string() || object[key].get<std::string>().empty()) throw ConfigError(path, "must be a non-empty string");
  return object[key].get<std::string>();
}

// The members of a block, each an axis of points: `key: values` pairs of an object (where a key "product" or
// "zip" is a nested block), or the elements of a list (objects of such pairs, or blocks).
std::vector<std::vector<SweepPoint>> member_axes(const json& members, const std::string& path) {
  std::vector<std::vector<SweepPoint>> axes;
  auto add_object = [&](const json& object, const std::string& at) {
    for (const auto& [key, values] : object.items()) {
      const std::string key_path = at + "." + key;
      if (key == "product" || key == "zip") {
        axes.push_back(block_points(json{{key, values}}, at));
        continue;
      }
      std::vector<SweepPoint> axis;
      for (const json& v : axis_values(values, key_path)) axis.push_back({{key, v, key_path}});
      axes.push_back(std::move(axis));
    }
  };
  if (members.is_object()) {
    if (members.empty()) throw ConfigError(path, "is empty; give at least one axis");
    add_object(members, path);
  } else if (members.is_array()) {
    if (members.empty()) throw ConfigError(path, "is empty; give at least one axis");
    for (size_t i = 0; i < members.size(); ++i) {
      const std::string at = fmt::format("{}[{}]", path, i);
      if (!members[i].is_object() || members[i].empty()) throw ConfigError(at, "must be an object of axes or a block");
      add_object(members[i], at);
    }
  } else {
    throw ConfigError(path, "must be an object of axes {\"key\": [values]} or a list of them and of blocks");
  }
  return axes;
}

SweepPoint joined(const SweepPoint& a, const SweepPoint& b) {
  SweepPoint out = a;
  for (const SweepAssignment& x : b) {
    for (const SweepAssignment& y : a)
      if (x.key == y.key) throw ConfigError(x.from, fmt::format("sets {} again (already set by {})", x.key, y.from));
    out.push_back(x);
  }
  return out;
}

// {"product": members} (every combination, the first member slowest) or {"zip": members} (the i-th values
// of every member together; all of the same length).
std::vector<SweepPoint> block_points(const json& block, const std::string& path) {
  if (!block.is_object() || block.size() != 1 || !(block.contains("product") || block.contains("zip")))
    throw ConfigError(path, "must be {\"product\": ...} or {\"zip\": ...}");
  const bool zip = block.contains("zip");
  const std::string at = path + (zip ? ".zip" : ".product");
  const std::vector<std::vector<SweepPoint>> axes = member_axes(zip ? block["zip"] : block["product"], at);
  std::vector<SweepPoint> points;
  if (zip) {
    for (const auto& axis : axes)
      if (axis.size() != axes[0].size())
        throw ConfigError(at, fmt::format("zips axes of unequal lengths ({} and {}); give every member as many values",
                                          axes[0].size(), axis.size()));
    for (size_t i = 0; i < axes[0].size(); ++i) {
      SweepPoint p;
      for (const auto& axis : axes) p = joined(p, axis[i]);
      points.push_back(std::move(p));
    }
    return points;
  }
  points = {SweepPoint{}};
  for (const auto& axis : axes) {
    std::vector<SweepPoint> next;
    for (const SweepPoint& p : points)
      for (const SweepPoint& q : axis) next.push_back(joined(p, q));
    points = std::move(next);
  }
  return points;
}
}  // namespace

std::string override_text(const SweepAssignment& a) {
  return a.key + "=" + (a.value.is_string() ? a.value.get<std::string>() : a.value.dump());
}

SweepSpec sweep_spec_from_json(const json& spec) {
  if (!spec.is_object()) throw ConfigError("(top level)", "a sweep spec is a JSON object");
  SpecReader(spec, "", "a sweep spec").only({"name", "base", "axes", "seeds", "pack", "out", "launch"});
  SweepSpec out;
  out.source = spec;
  out.name = required_text(spec, "name", "name");
  // It names a directory, a Slurm job and log paths in #SBATCH lines, which take no quoting.
  if (!config_detail::is_plain_name(out.name))
    throw ConfigError("name", fmt::format("'{}' cannot name a sweep; use letters, digits, '.', '_' and '-' (not starting "
                                          "with '.'), e.g. layers_by_depth", out.name));
  if (!spec.contains("base") || !spec["base"].is_object()) throw ConfigError("base", "give {\"config\": FILE, \"overrides\": {...}}");
  SpecReader(spec["base"], "base", "a sweep spec").only({"config", "overrides"});
  out.base_config = required_text(spec["base"], "config", "base.config");
  if (spec["base"].contains("overrides")) {
    const json& o = spec["base"]["overrides"];
    if (!o.is_object()) throw ConfigError("base.overrides", "must be an object {\"key.path\": value}");
    for (const auto& [key, value] : o.items()) out.base_overrides.push_back({key, value, "base.overrides." + key});
  }
  out.points = spec.contains("axes") ? block_points(spec["axes"], "axes") : std::vector<SweepPoint>{SweepPoint{}};
  for (SweepPoint& p : out.points) {  // the base's overrides, except those an axis sets, then the axes'
    SweepPoint full;
    for (const SweepAssignment& b : out.base_overrides)
      if (std::none_of(p.begin(), p.end(), [&](const SweepAssignment& a) { return a.key == b.key; })) full.push_back(b);
    p = joined(full, p);
  }
  if (spec.contains("seeds")) {
    const json& s = spec["seeds"];
    for (const json& v : axis_values(s, "seeds")) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0) throw ConfigError("seeds", "seeds must be integers >= 0");
      out.seeds.push_back(v.get<uint64_t>());
    }
  }
  if (spec.contains("pack")) {
    if (!spec["pack"].is_number_integer() || spec["pack"].get<int64_t>() < 1 || spec["pack"].get<int64_t>() > 4096)
      throw ConfigError("pack", "must be an integer from 1 to 4096 (the most seeds one process trains)");
    out.pack = spec["pack"].get<int64_t>();
  }
  if (spec.contains("launch")) out.launch = launch_options_from_json(spec["launch"], "launch");
  out.out = spec.contains("out") ? std::filesystem::path(required_text(spec, "out", "out"))
                                 : std::filesystem::path("results") / "sweeps" / out.name;
  return out;
}

SweepSpec read_sweep_spec(const std::filesystem::path& file) { return sweep_spec_from_json(read_json_file(file)); }

}  // namespace mechlab
