#include "analysis/slot_patches.h"

#include <fmt/format.h>

#include <stdexcept>

#include "ops/ops.h"

namespace mechlab {

HookGeometry hook_geometry(const std::string& hook) {
  if (hook == "hook_pos_embed")
    throw std::invalid_argument("hook_pos_embed is shared by every example; patch hook_embed or a residual stream");
  for (const char* per_head : {".hook_q", ".hook_k", ".hook_v", ".hook_z"})
    if (hook.ends_with(per_head)) return {3, 0, 1};  // (T, H, E)
  if (hook.ends_with(".hook_pattern") || hook.ends_with(".hook_attn_scores")) return {3, 1, 0};  // (H, T, T)
  return {2, 0, -1};  // (T, W)
}

SlotPatches::SlotPatches(const TransformerConfig& config, int64_t replicas, int64_t slots, int64_t batch,
                         int64_t positions)
    : replicas_(replicas), slots_(slots), batch_(batch), positions_(positions), heads_(config.n_heads) {}

std::vector<int64_t> SlotPatches::mask_dims(const std::string& hook) const {
  const HookGeometry g = hook_geometry(hook);
  std::vector<int64_t> dims(g.rank, 1);
  dims[g.position_axis] = positions_;
  if (g.head_axis >= 0) dims[g.head_axis] = heads_;
  return dims;
}

int SlotPatches::add_source(const std::string& hook, Tensor source) {
  int64_t size = replicas_ * slots_ * batch_;
  for (int64_t d : mask_dims(hook)) size *= d;
  sources_.push_back({hook, std::move(source), std::vector<double>(size, 0.0)});
  return static_cast<int>(sources_.size()) - 1;
}

int SlotPatches::source(const std::string& hook, const Tensor& values) {
  for (size_t i = 0; i < sources_.size(); ++i)
    if (sources_[i].hook == hook && sources_[i].values.impl() == values.impl()) return static_cast<int>(i);
  return add_source(hook, values);
}

void SlotPatches::take(int64_t slot, int source_id, const Where& where) {
  Source& source = sources_.at(source_id);
  const HookGeometry g = hook_geometry(source.hook);
  const std::vector<int64_t> dims = mask_dims(source.hook);
  std::vector<bool> head_taken(heads_, where.heads.empty());
  for (int h : where.heads) head_taken.at(h) = true;
  // The entries of one example's mask (dims, row-major) the heads allow, with their positions: the same for
  // every example, so found once.
  std::vector<std::pair<int64_t, int64_t>> entries;  // (index, position)
  int64_t per_example = 1;
  for (int64_t d : dims) per_example *= d;
  for (int64_t i = 0; i < per_example; ++i) {
    std::vector<int64_t> at(dims.size());
    for (int64_t rest = i, d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      at[d] = rest % dims[d];
      rest /= dims[d];
    }
    if (g.head_axis < 0 || head_taken[at[g.head_axis]]) entries.push_back({i, at[g.position_axis]});
  }
  for (int64_t r = 0; r < replicas_; ++r)
    for (int64_t b = 0; b < batch_; ++b) {
      double* mask = &source.mask[((r * slots_ + slot) * batch_ + b) * per_example];
      for (const auto& [i, t] : entries)
        if (!where.position || where.position(r * batch_ + b, t)) mask[i] = 1.0;
    }
}

void SlotPatches::install(ActivationHooks& hooks) const {
  std::map<std::string, std::vector<const Source*>> by_hook;
  for (const Source& s : sources_) by_hook[s.hook].push_back(&s);
  for (const auto& [hook, sources] : by_hook) {
    const std::vector<int64_t> dims = mask_dims(hook);
    Shape mask_shape{replicas_, slots_, batch_};
    mask_shape.insert(mask_shape.end(), dims.begin(), dims.end());
    std::vector<double> keep(sources.front()->mask.size(), 1.0);
    for (const Source* s : sources)
      for (size_t i = 0; i < keep.size(); ++i) keep[i] -= s->mask[i];
    for (double k : keep)
      if (k < 0.0) throw std::logic_error("SlotPatches: two sources patch the same entry of " + hook);
    struct Term {
      Tensor values, mask;
    };
    const DType dtype = sources.front()->values.dtype();
    const Device device = sources.front()->values.device();
    auto to_device = [&](const std::vector<double>& v) { return Tensor::from_vector<double>(mask_shape, v).to(dtype).to(device); };
    std::vector<Term> terms;
    for (const Source* s : sources) terms.push_back({s->values, to_device(s->mask)});
    const Tensor keep_mask = to_device(keep);
    const int64_t R = replicas_, S = slots_, B = batch_;
    hooks.replace(hook, [terms, keep_mask, R, S, B](const Tensor& x) {
      Shape split{R, S, B}, shared{R, 1, B};
      split.insert(split.end(), x.shape().begin() + 2, x.shape().end());
      shared.insert(shared.end(), x.shape().begin() + 2, x.shape().end());
      Tensor out = mul(reshape(x, split), keep_mask);
      for (const Term& term : terms) {
        const bool per_slot = term.values.dim(1) == S * B;
        out = add(out, mul(reshape(term.values, per_slot ? split : shared), term.mask));
      }
      return reshape(out, x.shape());
    });
  }
}

Batch tiled(const Batch& batch, int64_t copies) {
  if (copies == 1) return batch;
  auto tile = [copies](const Tensor& x) {
    if (!x.defined()) return x;
    return concat(std::vector<Tensor>(copies, x), 1);
  };
  Batch out{tile(batch.inputs), tile(batch.targets), tile(batch.loss_mask), {}};
  for (const auto& [role, positions] : batch.annotations.positions) out.annotations.positions[role] = tile(positions);
  for (const auto& [role, tokens] : batch.annotations.tokens) out.annotations.tokens[role] = tile(tokens);
  for (const auto& [role, mask] : batch.annotations.masks) out.annotations.masks[role] = tile(mask);
  return out;
}

}  // namespace mechlab
