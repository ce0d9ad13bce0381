// Subspace patching: patch only the projection of an activation onto given directions (or the difference of
// the clean and corrupted means there), x' = x + (s - x) P, beside the full-component patch and, for an
// activation a linear map reads (a head's hook_z through W_O, an MLP's hook_post through W_out), the control of
// Makelov et al. 2024: the directions split into their parts in that map's rowspace and in its nullspace, each
// patched alone. An effect that lives in the nullspace part cannot reach the output through that map: an
// interpretability illusion. Four slots of one batched pass.
#include <fmt/format.h>

#include <Eigen/Dense>
#include <optional>

#include "analysis/components.h"
#include "analysis/kinds.h"
#include "config/config_error.h"
#include "ops/ops.h"

namespace mechlab {

namespace {

// Orthogonal projection onto the span of the columns of `vectors` (W x n); zero for an empty span.
Eigen::MatrixXd projection(const Eigen::MatrixXd& vectors) {
  const int64_t W = vectors.rows();
  if (vectors.cols() == 0) return Eigen::MatrixXd::Zero(W, W);
  Eigen::JacobiSVD<Eigen::MatrixXd> svd(vectors, Eigen::ComputeThinU);
  const double tolerance = 1e-10 * std::max(1.0, svd.singularValues().maxCoeff());
  int rank = 0;
  while (rank < svd.singularValues().size() && svd.singularValues()[rank] > tolerance) ++rank;
  const Eigen::MatrixXd basis = svd.matrixU().leftCols(rank);
  return basis * basis.transpose();
}

class SubspacePatching final : public Analysis {
 public:
  SubspacePatching(const SpecReader& entry, const SpecTarget& target)
      : metric_(entry_metric(entry, target)), positions_(parse_positions(entry, target)) {
    entry.only({"name", "kind", "metric", "hook", "head", "positions", "directions", "direction"});
    if (!target.has_contrast) throw ConfigError(entry.at("kind"), kNeedsContrast);
    if (!entry.has("hook")) throw ConfigError(entry.at("hook"), "is missing; name the activation, e.g. \"blocks.0.attn.hook_z\"");
    hook_ = parse_hook(entry.raw("hook"), target.model, entry.at("hook"));
    const HookGeometry g = hook_geometry(hook_);
    if (g.head_axis >= 0 && g.rank == 3 && g.head_axis != 1)
      throw ConfigError(entry.at("hook"), "patterns and scores have no feature axis to project; use hook_z, hook_v or a residual");
    if (g.head_axis >= 0) {
      if (!entry.has("head")) throw ConfigError(entry.at("head"), "is missing: " + hook_ + " is per head; say which");
      head_ = static_cast<int>(entry.integer("head", 0, 0, target.model.n_heads - 1));
    } else if (entry.has("head")) {
      throw ConfigError(entry.at("head"), hook_ + " has no heads; remove \"head\"");
    }
    width_ = feature_width(target.model);
    denoising_ = entry.choice("direction", {"denoising", "noising"}, "denoising") == "denoising";
    const nlohmann::json directions = entry.has("directions") ? entry.raw("directions") : nlohmann::json("mean_difference");
    if (directions == "mean_difference") {
      mean_difference_ = true;
    } else if (directions.is_array() && !directions.empty()) {
      for (size_t i = 0; i < directions.size(); ++i) {
        const std::string at = fmt::format("{}[{}]", entry.at("directions"), i);
        if (!directions[i].is_array() || static_cast<int64_t>(directions[i].size()) != width_)
          throw ConfigError(at, fmt::format("must be a list of {} numbers (the width of {})", width_, hook_));
        std::vector<double> v;
        for (const auto& x : directions[i]) {
          if (!x.is_number()) throw ConfigError(at, "must hold numbers");
          v.push_back(x.get<double>());
        }
        directions_.push_back(v);
      }
    } else {
      throw ConfigError(entry.at("directions"), "must be \"mean_difference\" or a list of vectors");
    }
  }

  AnalysisResult run(const AnalysisContext& ctx) const override {
    const Batch& base = denoising_ ? ctx.contrast.corrupted : ctx.contrast.clean;
    const Batch& other = denoising_ ? ctx.contrast.clean : ctx.contrast.corrupted;
    const Tensor x = ctx.cache(base, {hook_}).at(hook_), s = ctx.cache(other, {hook_}).at(hook_);
    const int64_t R = ctx.model.replicas();
    // Per replica: the directions (W x n) and the map that reads the activation, when there is one.
    std::vector<Eigen::MatrixXd> spans = direction_spans(x, s, base, R);
    const std::optional<std::vector<Eigen::MatrixXd>> reader = reading_map(ctx.model, R);
    std::vector<std::string> variants{"subspace", "full"};
    if (reader) variants.insert(variants.end(), {"rowspace_part", "nullspace_part"});
    std::vector<Tensor> sources;
    for (const std::string& variant : variants) {
      if (variant == "full") {
        sources.push_back(s);
        continue;
      }
      std::vector<double> P(R * width_ * width_);
      for (int64_t r = 0; r < R; ++r) {
        Eigen::MatrixXd part = spans[r];
        if (variant != "subspace") {
          const Eigen::MatrixXd row = projection((*reader)[r]);  // onto the map's rowspace
          part = variant == "rowspace_part" ? Eigen::MatrixXd(row * spans[r]) : Eigen::MatrixXd(spans[r] - row * spans[r]);
        }
        const Eigen::MatrixXd p = projection(part);
        for (int64_t i = 0; i < width_; ++i)
          for (int64_t j = 0; j < width_; ++j) P[(r * width_ + i) * width_ + j] = p(i, j);
      }
      const Tensor projector = Tensor::from_vector<double>({R, width_, width_}, P).to(x.dtype()).to(x.device());
      const Tensor rows = reshape(sub(s, x), {R, -1, width_});
      sources.push_back(add(x, reshape(matmul(rows, projector), x.shape())));  // x + (s - x) P
    }
    Where where = positions_.where(base);
    if (head_ >= 0) where.heads = {head_};
    const std::vector<double> values = ctx.patched_runs(metric_, base, static_cast<int64_t>(variants.size()),
                                                        [&](SlotPatches& p, int64_t slot, int64_t i) {
                                                          p.take(slot, p.source(hook_, sources[i]), where);
                                                        });
    const std::vector<double> clean = ctx.baseline(metric_, ctx.contrast.clean);
    const std::vector<double> corrupted = ctx.baseline(metric_, ctx.contrast.corrupted);
    const int64_t n = static_cast<int64_t>(variants.size());
    AnalysisResult result;
    result.arrays["metric"] = host_array({R, n}, values);
    result.arrays["normalised"] = host_array({R, n}, normalised(values, clean, corrupted));
    std::vector<double> directions;
    for (int64_t r = 0; r < R; ++r)
      for (int64_t i = 0; i < spans[r].cols(); ++i)
        for (int64_t w = 0; w < width_; ++w) directions.push_back(spans[r](w, i));
    result.arrays["directions"] = host_array({R, spans[0].cols(), width_}, directions);
    result.table["method"] = {{"kind", "subspace_patching"}, {"hook", hook_}, {"head", head_ >= 0 ? nlohmann::json(head_) : nlohmann::json(nullptr)},
                              {"positions", positions_.describe()}, {"directions", mean_difference_ ? "mean_difference" : "given"},
                              {"direction", denoising_ ? "denoising" : "noising"}, {"metric", metric_.name},
                              {"variants", variants}, {"corruption", ctx.contrast.description},
                              {"control", reader ? "rowspace/nullspace of " + reader_name() : "none: no single linear map reads " + hook_}};
    result.table["baseline"] = {{"clean", clean}, {"corrupted", corrupted}};
    return result;
  }

 private:
  int64_t feature_width(const TransformerConfig& c) const {
    if (hook_geometry(hook_).head_axis >= 0) return c.head_width();
    if (hook_.ends_with("mlp.hook_pre") || hook_.ends_with("mlp.hook_post")) return c.d_mlp;
    const int last = c.n_layers - 1;
    if (c.output == OutputKind::heads && hook_ == fmt::format("blocks.{}.hook_attn_out", last)) return c.d_output;
    return c.d_model;
  }
  int layer() const { return std::stoi(hook_.substr(7)); }
  std::string reader_name() const {
    return hook_.ends_with(".hook_z") ? fmt::format("W_O of head {}", head_) : "W_out";
  }
  // The matrix (W x out) whose rowspace the control splits by: W_O[head] for hook_z, W_out for hook_post.
  std::optional<std::vector<Eigen::MatrixXd>> reading_map(const Transformer& model, int64_t R) const {
    std::string name;
    if (hook_.ends_with(".attn.hook_z")) name = fmt::format("blocks.{}.attn.W_O", layer());
    else if (hook_.ends_with(".mlp.hook_post")) name = fmt::format("blocks.{}.mlp.W_out", layer());
    else return std::nullopt;
    const Tensor& w = model.parameter(name);  // (R, H, E, out) or (R, M, D)
    const int64_t out = w.dim(w.ndim() - 1);
    const std::vector<double> values = w.to_vector<double>();
    std::vector<Eigen::MatrixXd> maps;
    const int64_t per_replica = w.numel() / R, offset = head_ >= 0 ? head_ * width_ * out : 0;
    for (int64_t r = 0; r < R; ++r) {
      Eigen::MatrixXd m(width_, out);
      for (int64_t i = 0; i < width_; ++i)
        for (int64_t j = 0; j < out; ++j) m(i, j) = values[r * per_replica + offset + i * out + j];
      maps.push_back(m);
    }
    return maps;
  }
  // The directions per replica as columns: given, or the mean over examples and selected positions of s - x.
  std::vector<Eigen::MatrixXd> direction_spans(const Tensor& x, const Tensor& s, const Batch& base, int64_t R) const {
    std::vector<Eigen::MatrixXd> spans;
    if (!mean_difference_) {
      Eigen::MatrixXd given(width_, static_cast<int64_t>(directions_.size()));
      for (size_t i = 0; i < directions_.size(); ++i)
        for (int64_t w = 0; w < width_; ++w) given(w, i) = directions_[i][w];
      return std::vector<Eigen::MatrixXd>(R, given);
    }
    const std::vector<double> xs = x.to_vector<double>();
    const std::vector<double> ss = s.to_vector<double>();
    const int64_t B = x.dim(1), T = base.inputs.dim(2), H = hook_geometry(hook_).head_axis >= 0 ? x.dim(3) : 1;
    const Where where = positions_.where(base);
    for (int64_t r = 0; r < R; ++r) {
      Eigen::VectorXd total = Eigen::VectorXd::Zero(width_);
      double count = 0;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t) {
          if (where.position && !where.position(r * B + b, t)) continue;
          const int64_t at = (((r * B + b) * T + t) * H + std::max(head_, 0)) * width_;
          for (int64_t w = 0; w < width_; ++w) total[w] += ss[at + w] - xs[at + w];
          count += 1;
        }
      spans.push_back(total / count);
    }
    return spans;
  }

  AnalysisMetric metric_;
  PositionChoice positions_;
  std::string hook_;
  int head_ = -1;
  int64_t width_ = 0;
  bool denoising_ = true, mean_difference_ = false;
  std::vector<std::vector<double>> directions_;
};
}  // namespace

std::unique_ptr<Analysis> make_subspace_patching(const SpecReader& entry, const SpecTarget& target) {
  return std::make_unique<SubspacePatching>(entry, target);
}

}  // namespace mechlab
