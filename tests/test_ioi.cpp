// Indirect object identification: the prompts of both presets (where the names stand, the held-out name pairs,
// the 60 symbolic sequences), the contrast batches, the attention role scores on uniform attention, and a short
// run in which one layer with two heads goes from chance to 100% on the symbolic preset in every seed.
#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "config/run_schema.h"
#include "io/npy.h"
#include "report.h"
#include "subprocess.h"
#include "tasks/ioi/ioi_task.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
nlohmann::json options(nlohmann::json changes = nlohmann::json::object()) {
  nlohmann::json o = run_schema().resolve({{"name", "t"}, {"task", {{"name", "ioi"}}}})["task"];
  o.update(changes);
  return o;
}

std::vector<int32_t> ints(const Tensor& t) { return t.to_vector<int32_t>(); }
std::vector<double> npy_values(const fs::path& file) { return load_npy(file).to(DType::f64).to_vector<double>(); }
}  // namespace

TEST_CASE("ioi templates: IO once, S twice, in ABBA and BABA order; evaluation pairs held out from training") {
  const IoiTask task(options());
  const IoiPrompts prompts(IoiPreset::templates, 0, 8, 8, 8, 0.2);
  const int64_t B = 400, T = task.sequence_length();
  CHECK(T == 15);
  std::set<std::pair<int, int>> train_pairs, eval_pairs;
  for (RandomStream stream : {RandomStream::data, RandomStream::eval_data}) {
    const Batch b = task.sample({{3, 0}}, B, stream, 7);
    const std::vector<int32_t> x = ints(b.inputs), y = ints(b.targets);
    const Annotations& a = b.annotations;
    const std::vector<int32_t> io = ints(a.token("io")), s = ints(a.token("s")), io_at = ints(a.position("io")),
                               s1_at = ints(a.position("s1")), s2_at = ints(a.position("s2")),
                               end_at = ints(a.position("end")), abba = ints(a.labels.at("abba"));
    int abba_count = 0;
    for (int64_t e = 0; e < B; ++e) {
      const int32_t* p = &x[e * T];
      CHECK(p[0] == 0);  // <s>
      CHECK(p[io_at[e]] == io[e]);
      CHECK(p[s1_at[e]] == s[e]);
      CHECK(p[s2_at[e]] == s[e]);
      CHECK(io[e] != s[e]);
      CHECK(end_at[e] == T - 1);
      CHECK(y[e * T + T - 1] == io[e]);
      CHECK((io_at[e] < s1_at[e]) == (abba[e] == 1));
      CHECK(s2_at[e] > std::max(io_at[e], s1_at[e]));
      int io_count = 0, s_count = 0;
      for (int64_t t = 0; t < T; ++t) io_count += p[t] == io[e], s_count += p[t] == s[e];
      CHECK(io_count == 1);
      CHECK(s_count == 2);
      abba_count += abba[e];
      const int i = prompts.name_index(io[e]), j = prompts.name_index(s[e]);
      CHECK(prompts.held_out(i, j) == prompts.held_out(j, i));
      CHECK(prompts.held_out(i, j) == (stream == RandomStream::eval_data));
      (stream == RandomStream::data ? train_pairs : eval_pairs).insert({std::min(i, j), std::max(i, j)});
    }
    CHECK(std::abs(abba_count / double(B) - 0.5) < 0.08);
    const std::vector<float> mask = b.loss_mask.to_vector<float>();
    for (int64_t t = 0; t < T; ++t) CHECK(mask[t] == (t == T - 1 ? 1.0f : 0.0f));  // the answer only
  }
  for (const auto& pair : eval_pairs) CHECK(train_pairs.count(pair) == 0);
  int held = 0;
  for (int i = 0; i < 32; ++i)
    for (int j = i + 1; j < 32; ++j) held += prompts.held_out(i, j);
  CHECK(std::abs(held / 496.0 - 0.2) < 0.06);
}

TEST_CASE("ioi templates: a small held-out share still gives every evaluation prompt a held-out pair") {
  // 64 names, 2% held out: about 40 of 2016 pairs, so 48 rejected draws (37% of prompts) fall back to the list.
  const IoiTask task(options({{"names", 64}, {"held_out", 0.02}}));
  const IoiPrompts prompts(IoiPreset::templates, 64, 8, 8, 8, 0.02);
  const Batch b = task.sample({{1, 0}}, 2000, RandomStream::eval_data, 3);
  const std::vector<int32_t> io = ints(b.annotations.token("io")), s = ints(b.annotations.token("s"));
  std::set<std::pair<int, int>> ordered;
  for (size_t e = 0; e < io.size(); ++e) {
    const int i = prompts.name_index(io[e]), j = prompts.name_index(s[e]);
    CHECK(i != j);
    CHECK(prompts.held_out(i, j));
    ordered.insert({i, j});
  }
  int held = 0;
  for (int i = 0; i < 64; ++i)
    for (int j = i + 1; j < 64; ++j) held += prompts.held_out(i, j);
  CHECK(held > 20);
  CHECK(ordered.size() > 1.5 * held);  // both orders of most held-out pairs
  CHECK_THROWS_WITH_AS(IoiPrompts(IoiPreset::templates, 5, 8, 8, 8, 1e-6), doctest::Contains("change held_out"),
                       std::invalid_argument);
}

TEST_CASE("ioi symbolic: the 60 sequences '<s> A B B <mid>' and '<s> B A B <mid>', each epoch in its own order") {
  const IoiTask task(options({{"preset", "symbolic"}}));
  CHECK(task.sequence_length() == 5);
  CHECK(task.vocabulary().size() == 8);
  const std::vector<int32_t> x = ints(task.sample({{1, 0}}, 60, RandomStream::eval_data, 0).inputs);
  std::set<std::vector<int32_t>> all;
  for (int e = 0; e < 60; ++e) {
    const std::vector<int32_t> p(x.begin() + e * 5, x.begin() + (e + 1) * 5);
    CHECK(p[0] == 0);
    CHECK(p[4] == 1);  // <mid>
    CHECK(p[3] == (p[1] == p[3] ? p[1] : p[2]));
    CHECK(p[1] != p[2]);
    all.insert(p);
  }
  CHECK(all.size() == 60);
  // Training: every sequence once in each epoch of 60 examples (batches of 20 here), in different orders.
  std::vector<std::vector<int32_t>> epochs(2);
  for (uint32_t step = 0; step < 6; ++step) {
    const std::vector<int32_t> t = ints(task.sample({{1, 0}}, 20, RandomStream::data, step).inputs);
    for (int e = 0; e < 20; ++e) epochs[step / 3].insert(epochs[step / 3].end(), t.begin() + e * 5, t.begin() + (e + 1) * 5);
  }
  for (const auto& epoch : epochs) {
    std::set<std::vector<int32_t>> seen;
    for (int e = 0; e < 60; ++e) seen.insert(std::vector<int32_t>(epoch.begin() + e * 5, epoch.begin() + (e + 1) * 5));
    CHECK(seen.size() == 60);
  }
  CHECK(epochs[0] != epochs[1]);
}

TEST_CASE("ioi contrast batches: ABC, S2-flip and IO-swap rewrite only the names") {
  const IoiTask task(options());
  const int64_t B = 64, T = task.sequence_length();
  CHECK(task.contrast_kinds() == std::vector<std::string>{"abc", "s2_flip", "io_swap"});
  for (const std::string kind : {"abc", "s2_flip", "io_swap"}) {
    INFO(kind);
    const ContrastBatch c = task.contrast_batch({{2, 0}}, B, kind);
    const std::vector<int32_t> clean = ints(c.clean.inputs), corrupted = ints(c.corrupted.inputs);
    const Annotations& a = c.clean.annotations;
    const std::vector<int32_t> io = ints(a.token("io")), s = ints(a.token("s")), io_at = ints(a.position("io")),
                               s1_at = ints(a.position("s1")), s2_at = ints(a.position("s2"));
    CHECK(ints(c.corrupted.annotations.token("io")) == io);  // the clean roles hold for both
    for (int64_t e = 0; e < B; ++e) {
      const int32_t *p = &clean[e * T], *q = &corrupted[e * T];
      for (int64_t t = 0; t < T; ++t)
        if (t != io_at[e] && t != s1_at[e] && t != s2_at[e]) CHECK(p[t] == q[t]);
      if (kind == "abc") {
        const std::set<int32_t> names{q[io_at[e]], q[s1_at[e]], q[s2_at[e]]};
        CHECK(names.size() == 3);
        CHECK(names.count(io[e]) == 0);
        CHECK(names.count(s[e]) == 0);
      } else if (kind == "s2_flip") {
        CHECK(q[io_at[e]] == io[e]);
        CHECK(q[s1_at[e]] == s[e]);
        CHECK(q[s2_at[e]] == io[e]);
      } else {
        CHECK(q[io_at[e]] == s[e]);
        CHECK(q[s1_at[e]] == io[e]);
        CHECK(q[s2_at[e]] == io[e]);
      }
    }
  }
  // The mean-ablation reference: ABC prompts, three distinct names each.
  const Batch reference = task.reference_batch({{2, 0}}, B);
  const std::vector<int32_t> r = ints(reference.inputs);
  const std::vector<int32_t> io_at = ints(reference.annotations.position("io")),
                             s1_at = ints(reference.annotations.position("s1")),
                             s2_at = ints(reference.annotations.position("s2"));
  for (int64_t e = 0; e < B; ++e)
    CHECK(std::set<int32_t>{r[e * T + io_at[e]], r[e * T + s1_at[e]], r[e * T + s2_at[e]]}.size() == 3);
}

TEST_CASE("ioi role scores: under uniform causal attention each is 1 / (the reading position + 1)") {
  // Zero weights make every query attend uniformly to the positions up to it: the score from position q to a
  // position before it is 1 / (q + 1), and END -> S counts S1 and S2.
  const IoiTask task(options({{"preset", "symbolic"}}));
  TransformerConfig c;
  c.n_layers = 1;
  c.n_heads = 2;
  c.d_model = 8;
  c.d_mlp = 0;
  c.n_ctx = 5;
  c.d_vocab = static_cast<int>(task.vocabulary().size());
  c.init = {InitScheme::zeros, 1.0};
  const Transformer zero(c, {{1, 0}});
  const Batch batch = task.sample({{1, 0}}, 60, RandomStream::eval_data, 0);
  const Metrics m = task.summarize([&] {
    Task::EvaluationTensors host;
    for (const auto& [name, tensor] : task.evaluation_tensors(zero, batch)) host[name] = tensor.to(Device::cpu);
    return host;
  }(), batch)[0];
  for (const char* head : {"L0H0", "L0H1"}) {
    CHECK(m.at(std::string("attn_end_io.") + head) == doctest::Approx(1.0 / 5));
    CHECK(m.at(std::string("attn_end_s.") + head) == doctest::Approx(2.0 / 5));
    CHECK(m.at(std::string("attn_s2_s1.") + head) == doctest::Approx(1.0 / 4));
    // S1 + 1 is position 3 in ABBA and 2 in BABA, half the sequences each.
    CHECK(m.at(std::string("attn_s1p1_s1.") + head) == doctest::Approx((1.0 / 4 + 1.0 / 3) / 2));
  }
  CHECK(m.at("accuracy") == 0.0);  // equal logits: IO is not above S
  CHECK(m.at("logit_diff") == 0.0);
}

TEST_CASE("configs/ioi/symbolic_1layer_2heads.json: one layer with two heads goes from chance to 100% in every seed") {
  TempDir dir;
  const fs::path run = dir / "study" / "symbolic_1layer_2heads";  // the layout scripts/figures/ioi.py reads
  const ProcessResult r = run_mechlab({"run", source_dir() + "/configs/ioi/symbolic_1layer_2heads.json", "seeds=[0,1,2,3,4,5,6,7]",
                                       "train.steps=3000", "outputs.dumps=none", "--out", run.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  for (int seed = 0; seed < 8; ++seed) {
    INFO("seed " << seed);
    std::ifstream in(run / ("replica_" + std::to_string(seed)) / "metrics.jsonl");
    std::vector<nlohmann::json> evals;
    for (std::string line; std::getline(in, line);) {
      nlohmann::json record = nlohmann::json::parse(line);
      if (record.contains("accuracy")) evals.push_back(record);
    }
    REQUIRE(evals.size() >= 2);
    CHECK(std::abs(evals.front()["accuracy"].get<double>() - 0.5) < 0.15);
    CHECK(evals.back()["accuracy"].get<double>() == 1.0);
    CHECK(evals.back()["logit_diff"].get<double>() > 3.0);
  }

  // Analyses choose the corruption: with S2 flipped the name said twice is IO, so the trained model's logit
  // difference (IO minus S, scored against the clean roles) turns negative; an unknown corruption is refused.
  write_text(dir / "spec.json", R"({"contrast": "s2_flip", "batch_size": 60,
    "analyses": [{"name": "resid", "kind": "activation_patching", "family": "resid_pre", "metric": "logit_diff"}]})");
  const ProcessResult analyzed = run_mechlab({"analyze", run.string(), (dir / "spec.json").string()});
  REQUIRE_MESSAGE(analyzed.exit_code == 0, analyzed.err);
  const nlohmann::json table = nlohmann::json::parse(read_text(run / "analysis" / "resid" / "table.json"));
  INFO(table.dump());
  for (int seed = 0; seed < 8; ++seed) {
    CHECK(table["baseline"]["clean"][seed].get<double>() > 3.0);
    CHECK(table["baseline"]["corrupted"][seed].get<double>() < 0.0);
  }
  const ProcessResult refused = run_mechlab({"analyze", run.string(), (dir / "spec.json").string(), "contrast=abd"});
  CHECK(refused.exit_code == 2);
  CHECK(refused.err.find("contrast") != std::string::npos);
  CHECK(refused.err.find("s2_flip") != std::string::npos);

  // The roles spec of the study: what each head writes onto u_IO minus what it writes onto u_S is its share of
  // the logit difference, and mean-ablating both heads leaves the model at chance (0.5) in every seed.
  const ProcessResult roles = run_mechlab({"analyze", run.string(), source_dir() + "/configs/ioi/roles_1layer_2heads.json"});
  REQUIRE_MESSAGE(roles.exit_code == 0, roles.err);
  auto per_head = [&](const std::string& name) {
    return nlohmann::json::parse(read_text(run / "analysis" / name / "table.json"));
  };
  const std::vector<double> to_io = npy_values(run / "analysis" / "dla_io" / "per_head.npy");
  const std::vector<double> to_s = npy_values(run / "analysis" / "dla_s" / "per_head.npy");
  const std::vector<double> diff = npy_values(run / "analysis" / "dla" / "per_head.npy");
  REQUIRE(diff.size() == 16);
  for (size_t i = 0; i < diff.size(); ++i) CHECK(std::abs(to_io[i] - to_s[i] - diff[i]) < 1e-3 * (1.0 + std::abs(diff[i])));
  for (double accuracy : npy_values(run / "analysis" / "both_heads_mean" / "metric.npy")) CHECK(accuracy <= 0.55);
  CHECK(per_head("both_heads_mean")["baseline"]["clean"][0].get<double>() == 1.0);

  // The figure scripts read the study back: the roles table counts 8 seeds, and the NumPy model of
  // ioi_one_layer.py reproduces the runs' logit differences (it refuses otherwise) and loses the answer when
  // the heads' attention is spread evenly over the names.
  if (!python_imports("numpy, matplotlib")) {
    skip_test("the figures need python3-numpy and python3-matplotlib (scripts/setup --figures installs them)");
    return;
  }
  const std::string figures = "cd " + source_dir() + "/scripts/figures && /usr/bin/python3 ioi.py " + (dir / "study").string() +
                              " > " + (dir / "figures.log").string() + " 2>&1 && /usr/bin/python3 ioi_one_layer.py " +
                              run.string() + " --json " + (dir / "edits.json").string() + " >> " + (dir / "figures.log").string() + " 2>&1";
  const int status = std::system(figures.c_str());
  INFO(read_text(dir / "figures.log"));
  REQUIRE(status == 0);
  CHECK(read_text(dir / "study" / "figures" / "symbolic.md").find("8 seeds. Each head's direct attribution") != std::string::npos);
  const nlohmann::json edits = nlohmann::json::parse(read_text(dir / "edits.json"));
  REQUIRE(edits.size() == 8);
  double even = 0;
  for (const nlohmann::json& seed : edits) {
    CHECK(seed["clean"][0].get<double>() == 1.0);
    even += seed["even attention"][0].get<double>() / 8;
  }
  CHECK(even < 0.8);
}

TEST_CASE("scripts/figures/ioi_circuits.py and ioi_roles.py on a short templates run: F(M) is the logged logit difference") {
  if (!python_imports("numpy, matplotlib")) {
    skip_test("the figures need python3-numpy and python3-matplotlib (scripts/setup --figures installs them)");
    return;
  }
  TempDir dir;
  const fs::path run = dir / "templates";
  const ProcessResult trained = run_mechlab({"run", source_dir() + "/configs/ioi/templates_2layers_mlp.json", "seeds=[0,1]",
                                             "model.d_model=16", "model.n_heads=2", "model.d_mlp=32", "train.steps=300",
                                             "train.eval_every=100", "train.checkpoint_every=100", "train.eval_batch_size=256",
                                             "outputs.dumps=none", "--out", run.string()});
  REQUIRE_MESSAGE(trained.exit_code == 0, trained.err);
  const ProcessResult analyzed = run_mechlab({"analyze", run.string(), source_dir() + "/configs/ioi/roles_templates.json"});
  REQUIRE_MESSAGE(analyzed.exit_code == 0, analyzed.err);
  const std::string figures = "cd " + source_dir() + "/scripts/figures && /usr/bin/python3 ioi_circuits.py " + run.string() +
                              " --mechlab " + mechlab_binary() + " --needed 0 --out " + (dir / "fig").string() + " > " +
                              (dir / "fig.log").string() + " 2>&1 && /usr/bin/python3 ioi_roles.py " + run.string() +
                              " --name short --out " + (dir / "fig").string() + " >> " + (dir / "fig.log").string() + " 2>&1";
  const int status = std::system(figures.c_str());
  INFO(read_text(dir / "fig.log"));
  REQUIRE(status == 0);
  const nlohmann::json circuits = nlohmann::json::parse(read_text(dir / "fig" / "circuits_templates.json"));
  REQUIRE(circuits.size() == 2);
  for (const nlohmann::json& seed : circuits) {
    INFO(seed.dump());
    // F(M), the clean model on the evaluation batch, is the logit difference the run logged at that step; the
    // faithfulness is F(C) / F(M); incompleteness and minimality are shares, never negative.
    const double logged = seed["logit_diff"].get<double>();
    CHECK(std::abs(seed["F_M"].get<double>() - logged) < 1e-4 * (1.0 + std::abs(logged)));
    CHECK(std::abs(seed["faithfulness"].get<double>() - seed["F_C"].get<double>() / seed["F_M"].get<double>()) < 1e-9);
    CHECK(seed["incompleteness"].get<double>() >= 0.0);
    for (const nlohmann::json& v : seed["minimality"]) CHECK(v[1].get<double>() >= 0.0);
    CHECK(seed["to_logits"].size() == 4);  // each head's S2-flip path to the logits
    // The circuit is completed until it is faithful (0.8) or holds every head (2 layers x 2 heads).
    CHECK((seed["faithfulness"].get<double>() >= 0.8 || seed["circuit"].size() == 4));
  }
  // Name movers are split by the sign of their direct attribution (the run has its dla analysis).
  CHECK(read_text(dir / "fig" / "roles_short.md").find("| templates | name mover (END -> IO, DLA > 0) |") != std::string::npos);
  CHECK(read_text(dir / "fig" / "circuit_templates.png").substr(1, 3) == "PNG");
  CHECK(read_text(dir / "fig" / "path_patching_templates.png").substr(1, 3) == "PNG");
  // With no head needed and a faithfulness no circuit short of M reaches, the greedy completion adds heads one at
  // a time until all four are in, so F(C) is F(M).
  const std::string greedy = "cd " + source_dir() + "/scripts/figures && /usr/bin/python3 ioi_circuits.py " + run.string() +
                             " --mechlab " + mechlab_binary() + " --needed 1e9 --faithful 1e9 --max-subsets 4 --out " +
                             (dir / "greedy").string() + " > " + (dir / "greedy.log").string() + " 2>&1";
  const int greedy_status = std::system(greedy.c_str());
  INFO(read_text(dir / "greedy.log"));
  REQUIRE(greedy_status == 0);
  for (const nlohmann::json& seed : nlohmann::json::parse(read_text(dir / "greedy" / "circuits_templates.json"))) {
    INFO(seed.dump());
    CHECK(seed["circuit"].size() == 4);
    CHECK(seed["added"].size() + seed["roles"].size() >= 4);
    CHECK(std::abs(seed["F_C"].get<double>() - seed["F_M"].get<double>()) < 1e-9);
  }
}
