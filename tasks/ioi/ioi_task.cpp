#include "tasks/ioi/ioi_task.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "config/config_error.h"
#include "nn/attention_patterns.h"
#include "ops/ops.h"
#include "task/parallel_replicas.h"

namespace mechlab {

namespace {
IoiPreset preset_of(const nlohmann::json& o) { return o["preset"] == "symbolic" ? IoiPreset::symbolic : IoiPreset::templates; }

// The attention scores: (from role, to roles), the mass from the first role's position to the others'.
struct RolePair {
  const char* name;
  const char* from;
  std::vector<const char*> to;
};
const std::vector<RolePair>& role_pairs() {
  static const std::vector<RolePair> pairs = {{"attn_s2_s1", "s2", {"s1"}},        {"attn_s2_s1p1", "s2", {"s1+1"}},
                                              {"attn_s1p1_s1", "s1+1", {"s1"}},    {"attn_end_s2", "end", {"s2"}},
                                              {"attn_end_io", "end", {"io"}},      {"attn_end_s", "end", {"s1", "s2"}}};
  return pairs;
}

const nlohmann::json& checked(const nlohmann::json& o) {
  const bool symbolic = preset_of(o) == IoiPreset::symbolic;
  const int names = o["names"].get<int>() > 0 ? o["names"].get<int>() : IoiPrompts::preset_names(preset_of(o));
  if (symbolic && o["names"].get<int>() != 0 && o["names"].get<int>() != IoiPrompts::preset_names(IoiPreset::symbolic))
    throw ConfigError("task.names", "the symbolic preset has Adhikari's 6 names; leave task.names at 0");
  if (names < 5)
    throw ConfigError("task.names", "the ABC corruption needs three names besides IO and S: at least 5 names");
  if (!symbolic) {
    const double held_out = o["held_out"].get<double>();
    if (held_out <= 0.0 || held_out >= 1.0)
      throw ConfigError("task.held_out", "must be above 0 and below 1: evaluation uses the held-out name pairs, "
                                         "training the others");
    if (IoiPrompts::split_is_empty(names, held_out))
      throw ConfigError("task.held_out", fmt::format("with {} names no pair is held out at {}, or none is left for "
                                                     "training; change task.held_out or task.names",
                                                     names, held_out));
  }
  return o;
}
}  // namespace

IoiTask::IoiTask(const nlohmann::json& options)
    : prompts_(preset_of(checked(options)), options["names"].get<int>(), options["places"].get<int>(),
               options["objects"].get<int>(), options["templates"].get<int>(), options["held_out"].get<double>()),
      full_loss_(options["loss"] == "full") {}

Schema IoiTask::options() {
  Schema s;
  s.choice("preset", "templates", {"symbolic", "templates"},
           "symbolic: Adhikari's '<s> A B B <mid>' -> A and '<s> B A B <mid>' -> A over 6 names, all 60 sequences "
           "for training and evaluation; templates: 8 sentence templates ('<s> when A and B went to the P , B gave a "
           "O to' -> A), ABBA and BABA order 50/50, held-out name pairs for evaluation.");
  s.integer("names", 0, "Name tokens (0: the preset's, 6 or 32).", 0, 64);
  s.integer("places", 8, "Place tokens of the templates preset.", 1, 8);
  s.integer("objects", 8, "Object tokens of the templates preset.", 1, 8);
  s.integer("templates", 8, "Sentence templates used by the templates preset (the first n of 8).", 1, 8);
  s.number("held_out", 0.2, "Share of unordered name pairs kept for evaluation (templates preset).", 0.0, 1.0);
  s.choice("loss", "answer", {"answer", "full"},
           "answer: cross-entropy of IO at END only; full: also the next token at every earlier position.");
  return s;
}

void IoiTask::adapt_model(nlohmann::json& model) const {
  if (model["input"] != "tokens") throw ConfigError("model.input", "ioi feeds token ids; set it to tokens or remove it");
  require_model_value(model, "d_vocab", prompts_.vocab_size(), "ioi's vocabulary (task.preset, names, places, objects)");
  if (model["n_ctx"].get<int64_t>() == 0) model["n_ctx"] = sequence_length();
}

IoiPrompt IoiTask::prompt_at(const ReplicaKey& replica, RandomStream stream, uint32_t step, int64_t b) const {
  return prompts_.sample(Philox(replica, stream, step), static_cast<uint64_t>(b), stream != RandomStream::data);
}

std::vector<uint64_t> IoiTask::epoch_order(const ReplicaKey& replica, uint64_t epoch) const {
  const uint64_t n = static_cast<uint64_t>(prompts_.symbolic_count());
  const Philox rng(replica, RandomStream::dataset, static_cast<uint32_t>(epoch));
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = i;
  for (uint64_t i = n - 1; i > 0; --i) std::swap(order[i], order[rng.below(i, static_cast<uint32_t>(i + 1))]);
  return order;
}

Batch IoiTask::sample(const std::vector<ReplicaKey>& replicas, int64_t batch_size, RandomStream stream,
                      uint32_t step) const {
  const int64_t R = static_cast<int64_t>(replicas.size());
  const bool by_epoch = prompts_.preset() == IoiPreset::symbolic && stream == RandomStream::data;
  const uint64_t n = static_cast<uint64_t>(prompts_.symbolic_count());
  std::vector<IoiPrompt> prompts(R * batch_size);
  for_each_replica(R, [&](int64_t r) {
    std::vector<uint64_t> order;  // symbolic training: the order of the epoch `ordered`
    uint64_t ordered = ~uint64_t{0};
    for (int64_t b = 0; b < batch_size; ++b) {
      IoiPrompt& prompt = prompts[r * batch_size + b];
      if (!by_epoch) {
        prompt = prompt_at(replicas[r], stream, step, b);
        continue;
      }
      // Epoch after epoch through the 60 sequences, each epoch in its own order.
      const uint64_t global = static_cast<uint64_t>(step) * static_cast<uint64_t>(batch_size) + static_cast<uint64_t>(b);
      if (global / n != ordered) order = epoch_order(replicas[r], ordered = global / n);
      prompt = prompts_.sample(Philox(replicas[r], stream, step), order[global % n], false);
    }
  });
  return batch_of(prompts, R, batch_size);
}

Batch IoiTask::batch_of(const std::vector<IoiPrompt>& prompts, int64_t R, int64_t B) const {
  const int64_t T = sequence_length();
  std::vector<int32_t> tokens(R * B * T), targets(R * B * T, 0);
  std::map<std::string, std::vector<int32_t>> positions, names, labels;
  for (int64_t e = 0; e < R * B; ++e) {
    const IoiPrompt& p = prompts[e];
    for (int64_t t = 0; t < T; ++t) {
      tokens[e * T + t] = p.tokens[t];
      if (t + 1 < T) targets[e * T + t] = p.tokens[t + 1];
    }
    targets[e * T + p.end_position] = p.io;
    positions["io"].push_back(p.io_position);
    positions["s1"].push_back(p.s1_position);
    positions["s1+1"].push_back(p.s1_position + 1);
    positions["s2"].push_back(p.s2_position);
    positions["end"].push_back(p.end_position);
    names["io"].push_back(p.io);
    names["s"].push_back(p.s);
    labels["template"].push_back(p.template_index);
    labels["abba"].push_back(p.abba ? 1 : 0);
  }
  Batch batch{Tensor::from_vector<int32_t>({R, B, T}, tokens), Tensor::from_vector<int32_t>({R, B, T}, targets),
              Tensor(), {}};
  batch.loss_mask = loss_mask_for(batch.inputs);
  for (const auto& [role, v] : positions) batch.annotations.positions[role] = Tensor::from_vector<int32_t>({R, B}, v);
  for (const auto& [role, v] : names) batch.annotations.tokens[role] = Tensor::from_vector<int32_t>({R, B}, v);
  for (const auto& [name, v] : labels) batch.annotations.labels[name] = Tensor::from_vector<int32_t>({R, B}, v);
  return batch;
}

Tensor IoiTask::loss_mask_for(const Tensor& inputs) const {
  const int64_t R = inputs.dim(0), B = inputs.dim(1), T = inputs.dim(2);
  std::vector<float> mask(R * B * T, full_loss_ ? 1.0f : 0.0f);
  for (int64_t row = 0; row < R * B; ++row) mask[row * T + T - 1] = 1.0f;  // END is the last position
  return Tensor::from_vector<float>({R, B, T}, mask);
}

const std::map<std::string, Tensor>& IoiTask::role_masks_for(const Batch& batch, const Tensor& like) const {
  const void* key = batch.annotations.position("end").raw();
  if (!role_masks_.empty() && masks_for_ == key && role_masks_.begin()->second.device() == like.device())
    return role_masks_;
  const int64_t R = like.dim(0), B = like.dim(1), T = like.dim(2);
  role_masks_.clear();
  for (const RolePair& pair : role_pairs()) {
    std::vector<float> mask(R * B * T * T, 0.0f);
    const std::vector<int32_t> from = batch.annotations.position(pair.from).to_vector<int32_t>();
    for (const char* to_role : pair.to) {
      const std::vector<int32_t> to = batch.annotations.position(to_role).to_vector<int32_t>();
      for (int64_t e = 0; e < R * B; ++e) mask[(e * T + from[e]) * T + to[e]] = 1.0f;
    }
    role_masks_[pair.name] = Tensor::from_vector<float>({R, B, 1, T, T}, mask).to(like.dtype()).to(like.device());
  }
  masks_for_ = key;
  return role_masks_;
}

Task::EvaluationTensors IoiTask::evaluation_tensors(const Transformer& model, const Batch& batch) const {
  const auto [logits, patterns] = forward_with_patterns(model, batch.inputs);
  const std::map<std::string, Tensor>& masks = role_masks_for(batch, logits);
  EvaluationTensors out;
  out["end_logits"] = slice(logits, 2, logits.dim(2) - 1, logits.dim(2));  // (R, B, 1, V)
  for (size_t l = 0; l < patterns.size(); ++l) {
    if (!patterns[l].defined()) continue;
    for (const auto& [name, mask] : masks)
      out[fmt::format("{}.L{}", name, l)] = mean(sum(mul(patterns[l], mask), {3, 4}), {1});  // (R, H)
  }
  return out;
}

std::vector<Metrics> IoiTask::summarize(const EvaluationTensors& t, const Batch& batch) const {
  const int64_t R = batch.inputs.dim(0), B = batch.inputs.dim(1), V = prompts_.vocab_size();
  const std::vector<float> logits = t.at("end_logits").to_vector<float>();  // (R, B, 1, V)
  const std::vector<int32_t> io = batch.annotations.token("io").to_vector<int32_t>();
  const std::vector<int32_t> s = batch.annotations.token("s").to_vector<int32_t>();
  const std::vector<int32_t> templates = batch.annotations.labels.at("template").to_vector<int32_t>();
  const std::vector<int32_t> abba = batch.annotations.labels.at("abba").to_vector<int32_t>();
  const int first = prompts_.first_name(), last = first + prompts_.names();
  std::vector<Metrics> metrics(R);
  for (int64_t r = 0; r < R; ++r) {
    double loss = 0.0, right = 0.0, top1 = 0.0;
    std::vector<double> diffs;
    std::map<std::string, std::pair<double, double>> by_kind;  // accuracy.<kind>: right, count
    for (int64_t b = 0; b < B; ++b) {
      const int64_t e = r * B + b;
      const float* z = &logits[e * V];
      const float top = *std::max_element(z, z + V);
      double total = 0.0;
      for (int64_t k = 0; k < V; ++k) total += std::exp(static_cast<double>(z[k] - top));
      loss += std::log(total) - (z[io[e]] - top);
      diffs.push_back(static_cast<double>(z[io[e]]) - z[s[e]]);
      right += diffs.back() > 0.0;
      for (const std::string& kind : {std::string(abba[e] ? "abba" : "baba"), fmt::format("template{}", templates[e])}) {
        by_kind[kind].first += diffs.back() > 0.0;
        by_kind[kind].second += 1.0;
      }
      top1 += std::max_element(z + first, z + last) - z == io[e];
    }
    Metrics& m = metrics[r];
    m["eval_loss"] = loss / static_cast<double>(B);
    m["accuracy"] = right / static_cast<double>(B);
    m["top1_names"] = top1 / static_cast<double>(B);
    for (const auto& [kind, counts] : by_kind) m["accuracy." + kind] = counts.first / counts.second;
    double sum_diff = 0.0;
    for (double d : diffs) sum_diff += d;
    m["logit_diff"] = sum_diff / static_cast<double>(B);
    std::sort(diffs.begin(), diffs.end());
    for (int q : {10, 50, 90}) m[fmt::format("logit_diff.p{}", q)] = diffs[static_cast<size_t>((B - 1) * q / 100)];
  }
  for (const auto& [name, tensor] : t) {
    if (name.rfind("attn_", 0) != 0) continue;
    const std::vector<double> v = tensor.to(DType::f64).to_vector<double>();  // (R, H)
    const std::string score = name.substr(0, name.find('.')), layer = name.substr(name.find('.') + 1);
    const int64_t H = tensor.dim(1);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t h = 0; h < H; ++h) metrics[r][fmt::format("{}.{}H{}", score, layer, h)] = v[r * H + h];
  }
  return metrics;
}

std::vector<AnalysisMetric> IoiTask::analysis_metrics() const {
  return {{"logit_diff", MetricKind::logit_diff, "end", "io", "s", 0, "logit of IO minus logit of S at END", ""},
          {"logit_io", MetricKind::logit, "end", "io", "", 0, "logit of IO at END", ""},
          {"logit_s", MetricKind::logit, "end", "s", "", 0, "logit of S at END", ""},
          {"answer_loss", MetricKind::answer_loss, "end", "io", "", 0, "cross-entropy of IO at END", ""},
          {"accuracy", MetricKind::accuracy, "end", "io", "s", 0, "IO's logit above S's at END", ""},
          {"top1", MetricKind::accuracy, "end", "io", "", 0, "IO is the top prediction at END (whole vocabulary)", ""},
          {"loss", MetricKind::loss, "", "", "", 0, "the training loss", ""}};
}

nlohmann::json IoiTask::vocabulary() const { return prompts_.vocabulary(); }

}  // namespace mechlab
