#include "analysis/slot_patches.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
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

int64_t SlotPatches::per_example_size(const std::string& hook) const {
  int64_t size = 1;
  for (int64_t d : mask_dims(hook)) size *= d;
  return size;
}

int SlotPatches::add_source(const std::string& hook, Tensor source) {
  sources_.push_back({hook, std::move(source), 1, std::vector<double>(replicas_ * slots_ * per_example_size(hook), 0.0)});
  return static_cast<int>(sources_.size()) - 1;
}

int SlotPatches::source(const std::string& hook, const Tensor& values) {
  for (size_t i = 0; i < sources_.size(); ++i)
    if (sources_[i].hook == hook && sources_[i].values.impl() == values.impl()) return static_cast<int>(i);
  return add_source(hook, values);
}

void SlotPatches::expand_to_batch(Source& source, int64_t batch, int64_t per_example) {
  if (source.mask_batch == batch) return;
  std::vector<double> expanded(source.mask.size() * batch);
  const int64_t rows = static_cast<int64_t>(source.mask.size()) / per_example;  // (R, S)
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(&source.mask[row * per_example], per_example, &expanded[(row * batch + b) * per_example]);
  source.mask = std::move(expanded);
  source.mask_batch = batch;
}

void SlotPatches::take(int64_t slot, int source_id, const Where& where) {
  Source& source = sources_.at(source_id);
  const HookGeometry g = hook_geometry(source.hook);
  const std::vector<int64_t> dims = mask_dims(source.hook);
  const int64_t per_example = per_example_size(source.hook);
  if (where.per_example) expand_to_batch(source, batch_, per_example);
  std::vector<bool> head_taken(heads_, where.heads.empty());
  for (int h : where.heads) head_taken.at(h) = true;
  // The entries of one example's mask (dims, row-major) the heads allow, with their positions: the same for
  // every example, so found once.
  std::vector<std::pair<int64_t, int64_t>> entries;  // (index, position)
  for (int64_t i = 0; i < per_example; ++i) {
    std::vector<int64_t> at(dims.size());
    for (int64_t rest = i, d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      at[d] = rest % dims[d];
      rest /= dims[d];
    }
    if (g.head_axis < 0 || head_taken[at[g.head_axis]]) entries.push_back({i, at[g.position_axis]});
  }
  // A mask shared by the examples of a slot is filled once, as example 0's.
  const int64_t examples = source.mask_batch;
  for (int64_t r = 0; r < replicas_; ++r)
    for (int64_t b = 0; b < examples; ++b) {
      double* mask = &source.mask[((r * slots_ + slot) * examples + b) * per_example];
      for (const auto& [i, t] : entries)
        if (!where.position || where.position(r * batch_ + b, t)) mask[i] = 1.0;
    }
}

namespace {
// Whether any slot takes entries from this source.
bool taken(const std::vector<double>& mask) { return std::find(mask.begin(), mask.end(), 1.0) != mask.end(); }

// The layer of a hook inside a block ("blocks.3.attn.hook_z" -> 3), -1 for one outside the blocks.
int layer_of(const std::string& hook) {
  if (!hook.starts_with("blocks.")) return -1;
  return std::stoi(hook.substr(7));
}
}  // namespace

int SlotPatches::first_patched_layer() const {
  int first = std::numeric_limits<int>::max();
  for (const Source& s : sources_) {
    if (!taken(s.mask)) continue;
    const int layer = layer_of(s.hook);
    if (layer < 0) return 0;
    first = std::min(first, layer);
  }
  return first == std::numeric_limits<int>::max() ? 0 : first;
}

namespace {
// The position of every set entry of a mask (R, S, B', dims), visited in order.
template <typename Visit>
void for_each_patched_position(const std::vector<double>& mask, const HookGeometry& g, const std::vector<int64_t>& dims,
                               int64_t positions, Visit visit) {
  int64_t inner = 1;  // the mask's extent after the position axis
  for (size_t d = g.position_axis + 1; d < dims.size(); ++d) inner *= dims[d];
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i] != 0.0) visit(static_cast<int64_t>(i / inner) % positions);
}

bool is_after_attention(const std::string& hook) {
  for (const char* name : {".attn.hook_z", ".hook_attn_out", ".hook_resid_mid", ".ln2.hook_normalized", ".mlp.hook_pre",
                           ".mlp.hook_post", ".hook_mlp_out", ".hook_resid_post"})
    if (hook.ends_with(name)) return true;
  return false;
}
}  // namespace

int64_t SlotPatches::first_patched_position() const {
  int64_t first = positions_;
  for (const Source& s : sources_)
    for_each_patched_position(s.mask, hook_geometry(s.hook), mask_dims(s.hook), positions_,
                              [&](int64_t t) { first = std::min(first, t); });
  return first == positions_ ? 0 : first;  // nothing patched: the whole run
}

int64_t SlotPatches::last_patched_position() const {
  int64_t last = -1;
  for (const Source& s : sources_)
    for_each_patched_position(s.mask, hook_geometry(s.hook), mask_dims(s.hook), positions_,
                              [&](int64_t t) { last = std::max(last, t); });
  return last < 0 ? positions_ - 1 : last;
}

bool SlotPatches::patches_in_one_layer() const {
  int layer = -2;
  for (const Source& s : sources_) {
    if (!taken(s.mask)) continue;
    if (layer != -2 && layer_of(s.hook) != layer) return false;
    layer = layer_of(s.hook);
  }
  return true;
}

bool SlotPatches::patches_before(int layer) const {
  for (const Source& s : sources_) {
    if (!taken(s.mask)) continue;
    const int at = layer_of(s.hook);
    if (at < 0 || at >= layer) return false;
  }
  return true;
}

bool SlotPatches::patches_after_attention(int layer) const {
  for (const Source& s : sources_) {
    if (!taken(s.mask)) continue;
    const int at = layer_of(s.hook);
    if (at < 0 || (at == layer && !is_after_attention(s.hook))) return false;  // outside the blocks: before them
  }
  return true;
}

void SlotPatches::install(ActivationHooks& hooks, int64_t first_position, int64_t stop_position) const {
  // Sources no slot takes change nothing and are left out (their hooks may lie before a window's first layer).
  std::map<std::string, std::vector<Source>> by_hook;
  for (const Source& s : sources_)
    if (taken(s.mask)) by_hook[s.hook].push_back(s);
  for (auto& [hook, sources] : by_hook) {
    const HookGeometry g = hook_geometry(hook);
    const std::vector<int64_t> dims = mask_dims(hook);
    const int64_t per_example = per_example_size(hook);
    // One mask shape per hook: per example as soon as one of its sources is.
    int64_t examples = 1;
    for (const Source& s : sources) examples = std::max(examples, s.mask_batch);
    for (Source& s : sources) expand_to_batch(s, examples, per_example);
    Shape mask_shape{replicas_, slots_, examples};
    mask_shape.insert(mask_shape.end(), dims.begin(), dims.end());
    std::vector<double> keep(sources.front().mask.size(), 1.0);
    for (const Source& s : sources)
      for (size_t i = 0; i < keep.size(); ++i) keep[i] -= s.mask[i];
    for (double k : keep)
      if (k < 0.0) throw std::logic_error("SlotPatches: two sources patch the same entry of " + hook);
    struct Term {
      Tensor values, mask;
    };
    const DType dtype = sources.front().values.dtype();
    const Device device = sources.front().values.device();
    // Cut to the positions the pass computes: axis 3 + position_axis of a mask (R, S, B', dims), axis 2 +
    // position_axis of a source (R, B or S*B, ...).
    const int64_t stop = stop_position < 0 ? positions_ : stop_position;
    auto window = [&](const Tensor& x, int axis) {
      return first_position == 0 && stop == positions_ ? x : slice(x, axis, first_position, stop);
    };
    // Masks shared by the examples of a slot are expanded on the device: products that broadcast over an
    // inner axis take a slow path on the CPU.
    auto to_device = [&](const std::vector<double>& v) {
      Tensor mask = window(Tensor::from_vector<double>(mask_shape, v).to(dtype).to(device), 3 + g.position_axis);
      if (examples == batch_) return mask;
      Shape expanded = mask.shape();
      expanded[2] = batch_;
      return broadcast_to(mask, expanded);
    };
    std::vector<Term> terms;
    for (const Source& s : sources) terms.push_back({window(s.values, 2 + g.position_axis), to_device(s.mask)});
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
  auto tile = [copies](const Tensor& x) { return x.defined() ? repeat(x, 1, copies) : x; };
  Batch out{tile(batch.inputs), tile(batch.targets), tile(batch.loss_mask), {}};
  for (const auto& [role, positions] : batch.annotations.positions) out.annotations.positions[role] = tile(positions);
  for (const auto& [role, tokens] : batch.annotations.tokens) out.annotations.tokens[role] = tile(tokens);
  for (const auto& [role, mask] : batch.annotations.masks) out.annotations.masks[role] = tile(mask);
  for (const auto& [name, label] : batch.annotations.labels) out.annotations.labels[name] = tile(label);
  return out;
}

}  // namespace mechlab
