// The analysis kinds on a model whose weights are set by hand, so every expected number follows from the
// weights on paper: layer 0 head 0 is a previous-token head, layer 1 head 0 copies the token after the
// earlier occurrence of the current one (an induction circuit), the second head of each layer is all zeros.
// Scores are scaled by 100, so in f64 each pattern is one-hot up to e^-100. Residual dims (D = 16): 0-3 the
// token, 4-7 the position, 8-11 the previous token (written by L0H0), 12-15 the copied token (written by
// L1H0, the only dims W_U reads). Clean [3,0,1,0] copies 1 at position 3, corrupted [3,0,2,0] copies 2;
// clean [2,1,3,1] copies 3, corrupted [2,1,0,1] copies 0. The metric: logit of the clean copy minus the
// corrupted one at position 3: 1 clean, -1 corrupted.
#include <doctest/doctest.h>

#include <cmath>

#include "analysis/analysis.h"
#include "config/config_error.h"
#include "tensor/replica_slice.h"

using namespace mechlab;

namespace {
constexpr int V = 4, T = 4, D = 16, E = 4;

TransformerConfig induction_config() {
  TransformerConfig c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_model = D;
  c.d_head = E;
  c.d_mlp = 0;
  c.n_ctx = T;
  c.d_vocab = V;
  c.layernorm = LayerNormPlacement::none;
  c.biases = false;
  c.attention_scale = 100.0;
  c.init = {InitScheme::zeros, 1.0};
  return c;
}

void set(const Transformer& model, const std::string& name, const Shape& shape, const std::vector<std::pair<std::vector<int64_t>, double>>& ones) {
  int64_t size = 1;
  for (int64_t d : shape) size *= d;
  std::vector<double> values(size, 0.0);
  for (const auto& [at, value] : ones) {
    int64_t index = 0;
    for (size_t i = 0; i < at.size(); ++i) index = index * shape[i] + at[i];
    values[index] = value;
  }
  Tensor p = model.parameter(name);
  set_replica_slice(p, 0, Tensor::from_vector<double>(shape, values));
}

Transformer induction_model() {
  Transformer model(induction_config(), {{0, 0}}, DType::f64);
  std::vector<std::pair<std::vector<int64_t>, double>> W_E, W_pos, q0, k0, v0, o0, q1, k1, v1, o1, W_U;
  for (int v = 0; v < V; ++v) {
    W_E.push_back({{v, v}, 1.0});
    v0.push_back({{0, v, v}, 1.0});       // L0H0 reads the token
    o0.push_back({{0, v, 8 + v}, 1.0});   // and writes it as the previous token
    q1.push_back({{0, v, v}, 1.0});       // L1H0's query: the current token
    k1.push_back({{0, 8 + v, v}, 1.0});   // its key: the previous token
    v1.push_back({{0, v, v}, 1.0});       // its value: the token
    o1.push_back({{0, v, 12 + v}, 1.0});  // written as the copy
    W_U.push_back({{12 + v, v}, 1.0});
  }
  for (int t = 0; t < T; ++t) {
    W_pos.push_back({{t, 4 + t}, 1.0});
    q0.push_back({{0, 4 + t, t}, 1.0});                       // position i asks for i
    if (t + 1 < E) k0.push_back({{0, 4 + t, t + 1}, 1.0});    // position j answers for j + 1
  }
  set(model, "embed.W_E", {V, D}, W_E);
  set(model, "pos_embed.W_pos", {T, D}, W_pos);
  set(model, "blocks.0.attn.W_Q", {2, D, E}, q0);
  set(model, "blocks.0.attn.W_K", {2, D, E}, k0);
  set(model, "blocks.0.attn.W_V", {2, D, E}, v0);
  set(model, "blocks.0.attn.W_O", {2, E, D}, o0);
  set(model, "blocks.1.attn.W_Q", {2, D, E}, q1);
  set(model, "blocks.1.attn.W_K", {2, D, E}, k1);
  set(model, "blocks.1.attn.W_V", {2, D, E}, v1);
  set(model, "blocks.1.attn.W_O", {2, E, D}, o1);
  set(model, "unembed.W_U", {D, V}, W_U);
  return model;
}

Batch batch_of(const std::vector<int32_t>& tokens, const std::vector<int32_t>& answer, const std::vector<int32_t>& wrong,
               const std::vector<int32_t>& group = {0, 1}) {
  Batch b{Tensor::from_vector<int32_t>({1, 2, T}, tokens), Tensor::from_vector<int32_t>({1, 2, T}, tokens), Tensor(), {}};
  b.annotations.labels["group"] = Tensor::from_vector<int32_t>({1, 2}, group);
  b.annotations.positions["end"] = Tensor::from_vector<int32_t>({1, 2}, {3, 3});
  b.annotations.tokens["answer"] = Tensor::from_vector<int32_t>({1, 2}, answer);
  b.annotations.tokens["wrong"] = Tensor::from_vector<int32_t>({1, 2}, wrong);
  return b;
}

struct Fixture {
  Transformer model = induction_model();
  std::vector<AnalysisMetric> metrics{{"logit_diff", MetricKind::logit_diff, "end", "answer", "wrong", 0, "", ""},
                                      {"answer_logit", MetricKind::logit, "end", "answer", "", 0, "", ""},
                                      {"wrong_logit", MetricKind::logit, "end", "wrong", "", 0, "", ""},
                                      {"beats_wrong", MetricKind::accuracy, "end", "answer", "wrong", 0, "", ""}};
  SpecTarget target{model.config(), metrics, T, true, {"end"}, {"group"}};
  AnalysisContext context{model,
                          {batch_of({3, 0, 1, 0, 2, 1, 3, 1}, {1, 3}, {2, 0}), batch_of({3, 0, 2, 0, 2, 1, 0, 1}, {1, 3}, {2, 0}), "copied token"},
                          batch_of({3, 0, 2, 0, 2, 1, 0, 1}, {1, 3}, {2, 0}), 3};

  AnalysisResult run(const nlohmann::json& entry) {
    return parse_analysis(SpecReader(entry, "analyses[0]"), target)->run(context);
  }
};

std::vector<double> values(const AnalysisResult& r, const std::string& array) { return r.arrays.at(array).to_vector<double>(); }

void check_all(const std::vector<double>& got, const std::vector<double>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("entry " << i);
    if (std::isnan(expected[i])) CHECK(std::isnan(got[i]));
    else CHECK(std::abs(got[i] - expected[i]) < 1e-10);
  }
}
}  // namespace

TEST_CASE("hand-set induction circuit: baselines, ablations and head gradients match the weights") {
  Fixture f;
  const AnalysisResult zero = f.run({{"kind", "ablation"}, {"components", "heads"}});
  CHECK(std::abs(zero.table["baseline"]["clean"][0].get<double>() - 1.0) < 1e-10);
  // [L, H]: without the previous-token head the copy head attends uniformly (1/4 on the answer, 0 on the
  // wrong token); without the copy head nothing reaches W_U; the zero heads change nothing.
  check_all(values(zero, "metric"), {0.25, 1.0, 0.0, 1.0});
  // Mean over the reference batch (the corrupted sequences): the copy head's mean output at position 3 is
  // (e_2 + e_0) / 2, so each example's logit difference is 0 - 1/2 (the mean holds its wrong token).
  const AnalysisResult mean = f.run({{"kind", "ablation"}, {"components", nlohmann::json::array({"L1H0"})}, {"value", "mean"}});
  check_all(values(mean, "metric"), {-0.5});
  // Mean per label: each example of the clean batch takes the mean over the reference examples of its own group.
  // With groups 0 and 1 that is the reference example of the same index (logit difference -1, as resampling);
  // with one group for all, the mean over the batch again (-0.5).
  const nlohmann::json per_group = {{"kind", "ablation"}, {"components", nlohmann::json::array({"L1H0"})}, {"value", "mean"}, {"mean_by", "group"}};
  check_all(values(f.run(per_group), "metric"), {-1.0});
  f.context.contrast.clean.annotations.labels["group"] = Tensor::from_vector<int32_t>({1, 2}, {1, 1});
  f.context.reference.annotations.labels["group"] = Tensor::from_vector<int32_t>({1, 2}, {1, 1});
  check_all(values(f.run(per_group), "metric"), {-0.5});
  // A label no reference example carries is an error that names the key, and so is a label the task lacks.
  f.context.reference.annotations.labels["group"] = Tensor::from_vector<int32_t>({1, 2}, {0, 0});
  CHECK_THROWS_WITH_AS(f.run(per_group), doctest::Contains("mean_by"), ConfigError);
  nlohmann::json unknown = per_group;
  unknown["mean_by"] = "template";
  CHECK_THROWS_WITH_AS(f.run(unknown), doctest::Contains("group"), ConfigError);
  f.context.reference.annotations.labels["group"] = Tensor::from_vector<int32_t>({1, 2}, {0, 1});
  f.context.contrast.clean.annotations.labels["group"] = Tensor::from_vector<int32_t>({1, 2}, {0, 1});
  // Resample from the corrupted sequence of the same index: its copy head writes the wrong token.
  const AnalysisResult resample = f.run({{"kind", "ablation"}, {"components", nlohmann::json::array({"L1H0"})}, {"value", "resample"}});
  check_all(values(resample, "metric"), {-1.0});
  const AnalysisResult importance = f.run({{"kind", "head_importance"}});
  // The copy head's output is linear in its gate (d/dg = 1); the previous-token head's gate only sharpens
  // scores that are already saturated (about e^-100); zero heads contribute nothing.
  check_all(values(importance, "gate_gradient"), {0.0, 0.0, 1.0, 0.0});
  check_all(values(importance, "leave_one_out"), {0.25, 1.0, 0.0, 1.0});
}

TEST_CASE("hand-set induction circuit: activation patching by layer, position and head") {
  Fixture f;
  // Denoising: the corrupted run with one clean activation. Only position 2 holds the copied token before
  // layer 0 and before layer 1 (position 3's previous-token slot changes too, but no query matches it).
  const AnalysisResult resid = f.run({{"kind", "activation_patching"}, {"family", "resid_pre"}});
  check_all(values(resid, "normalised"), {0, 0, 1, 0, 0, 0, 1, 0});
  // z [L, T, H]: only the copy head's output at the final position restores the answer.
  std::vector<double> z_expected(2 * T * 2, 0.0);
  z_expected[(1 * T + 3) * 2 + 0] = 1.0;
  check_all(values(f.run({{"kind", "activation_patching"}, {"family", "z"}}), "normalised"), z_expected);
  // v by head over all positions [L, H]: the copy head's values carry the token; the previous-token head's
  // values at position 2 feed position 3's key slot, which no query matches.
  check_all(values(f.run({{"kind", "activation_patching"}, {"family", "v"}, {"by", "head"}}), "normalised"), {0, 0, 1, 0});
}

TEST_CASE("hand-set induction circuit: path patching, subspace patching and direct attribution") {
  Fixture f;
  // Noising, senders each head alone into the logits: the copy head's direct path carries the corruption
  // (-1); the previous-token head writes only dims W_U does not read (unchanged 1).
  check_all(values(f.run({{"kind", "path_patching"}, {"senders", "heads"}}), "metric"), {1.0, 1.0, -1.0, 1.0});
  // Into the copy head's values: the corrupted previous-token head changes only the previous-token slot, which
  // values do not read; into its keys it moves position 3's key, which the query does not match.
  const nlohmann::json senders = nlohmann::json::array({"L0H0"});
  check_all(values(f.run({{"kind", "path_patching"}, {"senders", senders},
                          {"receivers", {{{"head", "L1H0"}, {"input", "k"}}}}}), "metric"), {1.0});
  // Copy head's z at position 3 along the mean clean-minus-corrupted direction (-e0 + e1 - e2 + e3) / 2: each
  // example moves halfway, logit difference 0 (normalised 0.5); the full patch restores 1; W_O of the head is
  // injective, so the rowspace part is the whole direction and the nullspace part is empty (no change, -1).
  const AnalysisResult sub = f.run({{"kind", "subspace_patching"}, {"hook", "blocks.1.attn.hook_z"}, {"head", 0}, {"positions", "end"}});
  check_all(values(sub, "metric"), {0.0, 1.0, 0.0, -1.0});
  // Direct attribution [L, H]: the copy head writes the whole logit difference.
  check_all(values(f.run({{"kind", "direct_attribution"}}), "per_head"), {0.0, 0.0, 1.0, 0.0});
}

TEST_CASE("hand-set induction circuit: a logit metric is one side of the logit difference") {
  Fixture f;
  // The copy head writes the answer (logit 1) and nothing of the wrong token (0), all of it directly.
  check_all(values(f.run({{"kind", "direct_attribution"}, {"metric", "answer_logit"}}), "per_head"), {0.0, 0.0, 1.0, 0.0});
  check_all(values(f.run({{"kind", "direct_attribution"}, {"metric", "wrong_logit"}}), "per_head"), {0.0, 0.0, 0.0, 0.0});
  // Mean-ablating the copy head writes (e_2 + e_0) / 2, the reference batch's copies, which are the wrong
  // tokens: the answer's logit falls to 0, the wrong token's rises to 1/2 (their difference -1/2, as above).
  const nlohmann::json copy_head = nlohmann::json::array({"L1H0"});
  const AnalysisResult answer = f.run({{"kind", "ablation"}, {"components", copy_head}, {"value", "mean"}, {"metric", "answer_logit"}});
  CHECK(std::abs(answer.table["baseline"]["clean"][0].get<double>() - 1.0) < 1e-10);
  check_all(values(answer, "metric"), {0.0});
  check_all(values(f.run({{"kind", "ablation"}, {"components", copy_head}, {"value", "mean"}, {"metric", "wrong_logit"}}), "metric"), {0.5});
  // Accuracy against the wrong token: both clean examples right; with the copy head mean-ablated the wrong
  // token leads in both; zeroed, no name has a logit and neither leads (a tie is not right).
  const AnalysisResult beats = f.run({{"kind", "ablation"}, {"components", copy_head}, {"value", "mean"}, {"metric", "beats_wrong"}});
  CHECK(std::abs(beats.table["baseline"]["clean"][0].get<double>() - 1.0) < 1e-10);
  check_all(values(beats, "metric"), {0.0});
  check_all(values(f.run({{"kind", "ablation"}, {"components", copy_head}, {"metric", "beats_wrong"}}), "metric"), {0.0});
}

TEST_CASE("patching controls are exact: same-input patches, a full corrupted resid_pre, no receivers") {
  Fixture f;
  const std::vector<double> clean = f.context.baseline(f.metrics[0], f.context.contrast.clean);
  const std::vector<double> corrupted = f.context.baseline(f.metrics[0], f.context.contrast.corrupted);
  const auto clean_cache = f.context.cache(f.context.contrast.clean);
  const Tensor clean_logits = f.context.model.forward(f.context.contrast.clean.inputs);
  // Every hook point patched from the same (clean) run, in one pass: the logits are unchanged, bit for bit.
  SlotPatches all(f.model.config(), 1, 1, 2, T);
  for (const auto& [hook, value] : clean_cache)
    if (hook != "output" && hook != "hook_pos_embed") all.take(0, all.add_source(hook, value), {});
  ActivationHooks hooks;
  all.install(hooks);
  CHECK(f.model.forward(f.context.contrast.clean.inputs, &hooks).to_vector<double>() == clean_logits.to_vector<double>());
  // resid_pre of layer 0 at every position from the corrupted run: exactly the corrupted logits.
  const auto corrupted_cache = f.context.cache(f.context.contrast.corrupted, {"blocks.0.hook_resid_pre"});
  SlotPatches resid(f.model.config(), 1, 1, 2, T);
  resid.take(0, resid.add_source("blocks.0.hook_resid_pre", corrupted_cache.at("blocks.0.hook_resid_pre")), {});
  ActivationHooks resid_hooks;
  resid.install(resid_hooks);
  CHECK(f.model.forward(f.context.contrast.clean.inputs, &resid_hooks).to_vector<double>() ==
        f.model.forward(f.context.contrast.corrupted.inputs).to_vector<double>());
  // Path patching with no receivers is the base (clean) run.
  const AnalysisResult none = f.run({{"kind", "path_patching"}, {"senders", "heads"}, {"receivers", nlohmann::json::array()}});
  for (double v : values(none, "metric")) CHECK(v == clean[0]);
  CHECK(clean[0] != corrupted[0]);
}
