// Multi-step retrieval: the chain process (distinct variables, the query k hops from its answer, the depth
// distributions and schedules), the batches of both layouts (inputs, targets, loss masks, a finite training set), hop scores on
// hand-made patterns, a short training run in which one layer solves depth 1 and no deeper query (read back by the
// study's figure script), a run under an explicit depth schedule, the figure script's dense-target tables on
// hand-made runs, and the one-layer shortcut at D = 2.
#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/run_schema.h"
#include "report.h"
#include "subprocess.h"
#include "tasks/retrieval/chains.h"
#include "tasks/retrieval/retrieval_task.h"

using namespace mechlab;
using namespace mechlab::testing;
namespace fs = std::filesystem;

namespace {
nlohmann::json options(nlohmann::json changes = nlohmann::json::object()) {
  nlohmann::json o = run_schema().resolve({{"name", "t"}, {"task", {{"name", "retrieval"}}}})["task"];
  o.update(changes);
  return o;
}
}  // namespace

TEST_CASE("retrieval chains: distinct variables, the query k hops from its answer, uniform or fixed depths") {
  const ChainShape shape{4, 4, 64, 16};
  const Philox rng(3, 0, RandomStream::data, 0);
  std::vector<int> depths(5, 0);
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    const RetrievalExample e = sample_example(rng, i, shape, 0);
    REQUIRE(e.assignments.size() == 16);
    std::set<int> lhs;
    for (const Assignment& a : e.assignments) lhs.insert(a.lhs);
    CHECK(lhs.size() == 16);  // every variable is assigned once
    CHECK(hops_to_value(e.assignments, e.query_variable, shape.variables) == e.query_depth);
    // Following the chain from the query ends at its answer.
    int at = e.query_variable;
    for (int hop = 0; hop < e.query_depth; ++hop)
      for (const Assignment& a : e.assignments)
        if (a.lhs == at) {
          at = a.rhs;
          break;
        }
    CHECK(at == shape.variables + e.answer());
    ++depths[e.query_depth];
  }
  for (int k = 1; k <= 4; ++k) CHECK(std::abs(depths[k] / double(n) - 0.25) < 0.03);
  for (int i = 0; i < 100; ++i) CHECK(sample_example(rng, i, shape, 4).query_depth == 4);
  // Pure: the same index gives the same example, another index another.
  CHECK(sample_example(rng, 7, shape, 0).query_variable == sample_example(rng, 7, shape, 0).query_variable);
  CHECK(sample_example(rng, 7, shape, 0).assignments[0].lhs != sample_example(rng, 8, shape, 0).assignments[0].lhs);
}

TEST_CASE("retrieval chains, interleaved: each chain in step order, every assignment's rhs assigned before it") {
  ChainShape shape{4, 4, 64, 16};
  shape.interleaved = true;
  const Philox rng(3, 0, RandomStream::data, 0);
  int chain_changes = 0;
  for (int i = 0; i < 500; ++i) {
    const RetrievalExample e = sample_example(rng, i, shape, 0);
    std::set<int> assigned;
    std::vector<int> next_step(4, 1);
    for (const Assignment& a : e.assignments) {
      CHECK(a.step == next_step[a.chain]++);
      if (a.rhs < shape.variables) CHECK(assigned.count(a.rhs) == 1);  // the previous link is in the prefix
      assigned.insert(a.lhs);
    }
    CHECK(hops_to_value(e.assignments, e.query_variable, shape.variables) == e.query_depth);
    for (size_t j = 1; j < e.assignments.size(); ++j) chain_changes += e.assignments[j].chain != e.assignments[j - 1].chain;
    // The same draws as the shuffled order: the same chains' variables, values and query.
    shape.interleaved = false;
    const RetrievalExample shuffled = sample_example(rng, i, shape, 0);
    shape.interleaved = true;
    CHECK(shuffled.query_variable == e.query_variable);
    CHECK(shuffled.values == e.values);
  }
  // Interleaved, not one chain after another (3 changes an example): a random order changes chain 3/4 of the time.
  CHECK(chain_changes / 500.0 > 9.0);
}

namespace {
// The hops from each query of a pair-token batch (R, B, T, 2) to its answer, read back from the tokens.
std::vector<int> query_depths(const Batch& batch, int variables) {
  const int64_t examples = batch.inputs.dim(0) * batch.inputs.dim(1), T = batch.inputs.dim(2);
  const std::vector<int32_t> x = batch.inputs.to_vector<int32_t>();
  std::vector<int> depths;
  for (int64_t e = 0; e < examples; ++e) {
    std::vector<Assignment> assignments;
    for (int64_t t = 0; t + 1 < T; ++t)
      assignments.push_back({x[(e * T + t) * 2], x[(e * T + t) * 2 + 1] - (variables + 1), 0, 0});
    depths.push_back(hops_to_value(assignments, x[(e * T + T - 1) * 2 + 1] - (variables + 1), variables));
  }
  return depths;
}
}  // namespace

TEST_CASE("retrieval query depths: uniform and fixed are one-stage schedules, bit for bit; a schedule's stages") {
  const std::vector<ReplicaKey> keys = {{5, 0}, {6, 1}};
  using json = nlohmann::json;
  auto schedule = [](json stages) { return options({{"query_depth", "schedule"}, {"depth_schedule", std::move(stages)}}); };
  const RetrievalTask uniform(options()), fixed(options({{"query_depth", "fixed"}}));
  const RetrievalTask as_uniform(schedule({{{"from_step", 0}, {"max_depth", 4}}}));
  const RetrievalTask as_fixed(schedule({{{"from_step", 0}, {"min_depth", 4}, {"max_depth", 4}}}));
  for (uint32_t step : {0u, 17u}) {
    CHECK(uniform.sample(keys, 16, RandomStream::data, step).inputs.to_vector<int32_t>() ==
          as_uniform.sample(keys, 16, RandomStream::data, step).inputs.to_vector<int32_t>());
    CHECK(fixed.sample(keys, 16, RandomStream::data, step).inputs.to_vector<int32_t>() ==
          as_fixed.sample(keys, 16, RandomStream::data, step).inputs.to_vector<int32_t>());
  }
  // Depth 1 until step 10, then 2 or 3; evaluation batches at every depth throughout.
  const RetrievalTask staged(schedule({{{"from_step", 0}, {"max_depth", 1}}, {{"from_step", 10}, {"min_depth", 2}, {"max_depth", 3}}}));
  auto seen = [&](uint32_t step, RandomStream stream) {
    const std::vector<int> depths = query_depths(staged.sample(keys, 128, stream, step), 64);
    return std::set<int>(depths.begin(), depths.end());
  };
  CHECK(seen(0, RandomStream::data) == std::set<int>{1});
  CHECK(seen(9, RandomStream::data) == std::set<int>{1});
  CHECK(seen(10, RandomStream::data) == std::set<int>{2, 3});
  CHECK(seen(5000, RandomStream::data) == std::set<int>{2, 3});
  CHECK(seen(0, RandomStream::eval_data) == std::set<int>{1, 2, 3, 4});
  CHECK(seen(5000, RandomStream::eval_data) == std::set<int>{1, 2, 3, 4});
}

TEST_CASE("retrieval batches: pair and triple layouts, query-only and dense targets, a finite training set") {
  const std::vector<ReplicaKey> keys = {{5, 0}, {6, 1}};
  {
    const RetrievalTask task(options());
    const Batch b = task.sample(keys, 8, RandomStream::data, 0);
    REQUIRE(b.inputs.shape() == Shape{2, 8, 17, 2});
    const std::vector<int32_t> x = b.inputs.to_vector<int32_t>();
    const std::vector<float> mask = b.loss_mask.to_vector<float>();
    for (int64_t row = 0; row < 2 * 8 * 17; ++row) {
      CHECK(x[row * 2] >= 0);  // lhs: a variable or '?'
      CHECK(x[row * 2] <= 64);
      CHECK(x[row * 2 + 1] >= 65);  // rhs: after the lhs ids, a variable or a value
      CHECK(x[row * 2 + 1] < 65 + 80);
    }
    for (int64_t e = 0; e < 16; ++e) {
      CHECK(x[(e * 17 + 16) * 2] == 64);  // the query's lhs is '?'
      double counted = 0;
      for (int64_t t = 0; t < 17; ++t) counted += mask[e * 17 + t];
      CHECK(counted == 1.0);
    }
  }
  {
    CHECK_THROWS_WITH(RetrievalTask(options({{"target", "dense"}})),
                      doctest::Contains("set task.order to interleaved"));
    const RetrievalTask task(options({{"layout", "triple_tokens"}, {"target", "dense"}, {"order", "interleaved"}}));
    const Batch b = task.sample(keys, 8, RandomStream::data, 0);
    REQUIRE(b.inputs.shape() == Shape{2, 8, 50});
    const std::vector<int32_t> tokens = b.inputs.to_vector<int32_t>(), targets = b.targets.to_vector<int32_t>();
    const std::vector<float> mask = b.loss_mask.to_vector<float>();
    for (int64_t e = 0; e < 16; ++e) {
      double counted = 0;
      for (int64_t t = 0; t < 50; ++t) counted += mask[e * 50 + t];
      CHECK(counted == 17.0);  // every rhs and the query
      for (int64_t i = 0; i < 16; ++i) CHECK(tokens[e * 50 + 3 * i + 1] == 64 + 16);  // '='
      CHECK(tokens[e * 50 + 48] == 64 + 16 + 1);                                      // '?'
      CHECK(targets[e * 50 + 49] >= 64);                                              // a value token
      CHECK(targets[e * 50 + 49] < 80);
    }
    CHECK(task.vocabulary().size() == 82);
  }
  {
    const RetrievalTask task(options({{"data", "finite"}, {"examples", 3}}));
    std::set<std::vector<int32_t>> seen;
    for (uint32_t step = 0; step < 20; ++step) {
      const std::vector<int32_t> x = task.sample({{5, 0}}, 4, RandomStream::data, step).inputs.to_vector<int32_t>();
      for (int b = 0; b < 4; ++b) seen.insert(std::vector<int32_t>(x.begin() + b * 17 * 2, x.begin() + (b + 1) * 17 * 2));
    }
    CHECK(seen.size() == 3);
    // Evaluation examples are fresh.
    const std::vector<int32_t> eval = task.sample({{5, 0}}, 64, RandomStream::eval_data, 0).inputs.to_vector<int32_t>();
    std::set<std::vector<int32_t>> eval_seen;
    for (int b = 0; b < 64; ++b) eval_seen.insert(std::vector<int32_t>(eval.begin() + b * 17 * 2, eval.begin() + (b + 1) * 17 * 2));
    CHECK(eval_seen.size() == 64);
  }
}

TEST_CASE("configs/retrieval/quick_1layer.json: one layer solves depth 1 and no deeper query") {
  TempDir dir;
  const fs::path run = dir / "run";
  const ProcessResult r = run_mechlab({"run", source_dir() + "/configs/retrieval/quick_1layer.json", "--out", run.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::ifstream in(run / "metrics.jsonl");
  std::vector<nlohmann::json> evals;
  for (std::string line; std::getline(in, line);) {
    nlohmann::json record = nlohmann::json::parse(line);
    if (record.contains("accuracy.depth1")) evals.push_back(record);
  }
  REQUIRE(evals.size() >= 2);
  const nlohmann::json &first = evals.front(), &last = evals.back();
  const double chance_among_chains = 1.0 / 4;  // a model that finds the chains' values but not which one
  CHECK(first["accuracy.depth1"].get<double>() < 0.2);
  CHECK(last["accuracy.depth1"].get<double>() >= 0.95);
  for (int k = 2; k <= 4; ++k) CHECK(last["accuracy.depth" + std::to_string(k)].get<double>() < 2 * chance_among_chains);
  // The query learns to read hop 1's assignment: some head's hop-1 score grows from its step-0 value (1/T).
  auto best_hop1 = [](const nlohmann::json& record) {
    double best = 0;
    for (int h = 0; h < 4; ++h) best = std::max(best, record["hop1.L0H" + std::to_string(h)].get<double>());
    return best;
  };
  CHECK(best_hop1(first) < 0.1);
  CHECK(best_hop1(last) > 2 * best_hop1(first));

  // scripts/figures/retrieval.py reads the run back: its table holds the run's final accuracies.
  if (!python_imports("numpy, matplotlib")) {
    skip_test("the figures need python3-numpy and python3-matplotlib (scripts/setup --figures installs them)");
    return;
  }
  const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/figures/retrieval.py " + run.string() +
                              " --out " + (dir / "figures").string() + " > " + (dir / "figures.log").string() + " 2>&1";
  const int status = std::system(command.c_str());
  INFO(read_text(dir / "figures.log"));
  REQUIRE(status == 0);
  const nlohmann::json table = nlohmann::json::parse(read_text(dir / "figures" / "emergence.json"))["run"];
  CHECK(table["layers"] == 1);
  for (int k = 1; k <= 4; ++k)
    CHECK(table["final_accuracy"][std::to_string(k)][0].get<double>() == last["accuracy.depth" + std::to_string(k)].get<double>());
  int solved_at = -1;  // the first evaluation at which depth 1 reaches 90%
  for (const nlohmann::json& e : evals)
    if (solved_at < 0 && e["accuracy.depth1"].get<double>() >= 0.9) solved_at = e["step"].get<int>();
  CHECK(solved_at > 0);
  CHECK(table["per_seed"][0]["depth_pass"]["1"].get<int>() == solved_at);
  CHECK(read_text(dir / "figures" / "staircase.png").substr(1, 3) == "PNG");

  // scripts/figures/retrieval_order.py draws its own examples and runs the checkpoint through `mechlab forward`:
  // on them too the run solves depth 1 and not depth 2, in either order of the chain's two assignments.
  for (int depth : {1, 2}) {
    const fs::path table_path = dir / ("order" + std::to_string(depth) + ".json");
    const std::string order = "/usr/bin/python3 " + source_dir() + "/scripts/figures/retrieval_order.py " + run.string() +
                              " --depth " + std::to_string(depth) + " --examples 1000 --mechlab " + mechlab_binary() +
                              " --json " + table_path.string() + " > " + (dir / "order.log").string() + " 2>&1";
    const int order_status = std::system(order.c_str());
    INFO(read_text(dir / "order.log"));
    REQUIRE(order_status == 0);
    const nlohmann::json by_order = nlohmann::json::parse(read_text(table_path));
    CHECK(by_order["examples"] == 1000);
    if (depth == 1) CHECK(by_order["accuracy"].get<double>() >= 0.95);
    if (depth == 2) {
      REQUIRE(by_order["pairs"].size() == 1);
      CHECK(by_order["pairs"][0]["before"].get<double>() < 2 * chance_among_chains);
      CHECK(by_order["pairs"][0]["after"].get<double>() < 2 * chance_among_chains);
    }
  }
}

TEST_CASE("retrieval hop scores: the mass a head puts on each hop's assignment, and on the assignment it points to") {
  // Hand-made patterns over a real evaluation batch: layer 0's head 0 reads hop 1's assignment from the query,
  // head 1 hop 2's (or the query itself when there is none), head 2 from every assignment the one its right
  // side names (itself when that comes later), head 3 attends uniformly.
  const std::vector<ReplicaKey> keys = {{5, 0}};
  const ChainShape shape{4, 4, 64, 16};
  for (const char* layout : {"pair_token", "triple_tokens"}) {
    INFO(layout);
    const RetrievalTask task(options({{"layout", layout}}));
    const int64_t B = 64, T = task.sequence_length(), per = std::string(layout) == "pair_token" ? 1 : 3;
    const Batch batch = task.sample(keys, B, RandomStream::eval_data, 0);
    const Philox rng(keys[0], RandomStream::eval_data, 0);
    std::vector<double> pattern(B * 4 * T * T, 0.0);
    auto at = [&](int64_t b, int64_t h, int64_t q, int64_t k) -> double& { return pattern[((b * 4 + h) * T + q) * T + k]; };
    int deep = 0;
    for (int64_t b = 0; b < B; ++b) {
      const RetrievalExample e = sample_example(rng, static_cast<uint64_t>(b), shape, 0);
      auto index_of = [&](int variable) {
        for (size_t i = 0; i < e.assignments.size(); ++i)
          if (e.assignments[i].lhs == variable) return static_cast<int64_t>(i);
        return int64_t{-1};
      };
      const int64_t hop1 = index_of(e.query_variable);
      const int rhs1 = e.assignments[hop1].rhs;
      at(b, 0, T - 1, per * hop1 + per / 2) = 1.0;  // the middle position ('=') of a triple
      if (rhs1 < shape.variables) at(b, 1, T - 1, per * index_of(rhs1)) = 1.0, ++deep;
      else at(b, 1, T - 1, T - 1) = 1.0;
      for (int64_t q = 0; q < T; ++q) {
        for (int64_t k = 0; k <= q; ++k) at(b, 3, q, k) = 1.0 / (q + 1);
        const int64_t i = q / per;
        const bool pointer_row = q < per * 16 && q % per == per - 1;
        const int64_t target = pointer_row && e.assignments[i].rhs < shape.variables ? index_of(e.assignments[i].rhs) : -1;
        if (target >= 0 && per * target < q) at(b, 2, q, per * target) = 1.0;
        else at(b, 2, q, q) = 1.0;
      }
    }
    const Tensor patterns = Tensor::from_vector<double>({1, B, 4, T, T}, pattern).to(DType::f32);
    ChainPointers pointers = task.chain_pointers(batch.inputs);
    Task::EvaluationTensors tensors = hop_tensors({patterns}, pointers, per, 4);
    tensors["query_logits"] = Tensor::zeros({1, B, 1, per == 1 ? 16 : 82}, DType::f32);
    const Metrics m = task.summarize(tensors, batch)[0];
    CHECK(deep > 20);
    CHECK(m.at("hop1.L0H0") == doctest::Approx(1.0));
    CHECK(m.at("hop2.L0H0") == doctest::Approx(0.0));
    CHECK(m.at("hop1.L0H1") == doctest::Approx(0.0));
    CHECK(m.at("hop2.L0H1") == doctest::Approx(1.0));  // over the examples at least two hops deep
    CHECK(m.at("pointer.L0H2") == doctest::Approx(1.0));
    CHECK(m.at("pointer.L0H0") == doctest::Approx(0.0));
    CHECK(m.at("hop1.L0H3") == doctest::Approx(double(per) / T));
  }
}

TEST_CASE("retrieval dense target: accuracy at the assignments of each depth, from their logits") {
  // Logits that name the right value at the assignments of depths 1 and 2 and a wrong one deeper: the accuracy is
  // 1 at depths 1 and 2 and 0 at 3 and 4, in both layouts (the scored position is the rhs token of a triple).
  const std::vector<ReplicaKey> keys = {{5, 0}, {6, 1}};
  ChainShape shape{4, 4, 64, 16};
  shape.interleaved = true;
  for (const char* layout : {"pair_token", "triple_tokens"}) {
    INFO(layout);
    const RetrievalTask task(options({{"layout", layout}, {"target", "dense"}, {"order", "interleaved"}}));
    const bool pairs = std::string(layout) == "pair_token";
    const int64_t B = 32, n = 16, K = pairs ? 16 : 82, T = task.sequence_length();
    const Batch batch = task.sample(keys, B, RandomStream::eval_data, 0);
    const std::vector<int32_t> targets = batch.targets.to_vector<int32_t>();
    std::vector<float> logits(2 * B * n * K, 0.0f);
    for (int64_t r = 0; r < 2; ++r) {
      const Philox rng(keys[r], RandomStream::eval_data, 0);
      for (int64_t b = 0; b < B; ++b) {
        const RetrievalExample e = sample_example(rng, static_cast<uint64_t>(b), shape, 0);
        for (int64_t i = 0; i < n; ++i) {
          const int target = targets[(r * B + b) * T + (pairs ? i : 3 * i + 2)];
          CHECK(target == (pairs ? 0 : 64) + e.values[e.assignments[i].chain]);
          const int named = e.assignments[i].step <= 2 ? target : (target + 1) % K;
          logits[((r * B + b) * n + i) * K + named] = 1.0f;
        }
      }
    }
    ChainPointers pointers = task.chain_pointers(batch.inputs);
    const int64_t per = pairs ? 1 : 3;
    const Tensor uniform = Tensor::full({2, B, 1, T, T}, 1.0f / T, DType::f32);
    Task::EvaluationTensors tensors = hop_tensors({uniform}, pointers, per, 4);
    tensors["query_logits"] = Tensor::zeros({2, B, 1, K}, DType::f32);
    tensors["assignment_logits"] = Tensor::from_vector<float>({2, B, n, K}, logits);
    for (const Metrics& m : task.summarize(tensors, batch)) {
      CHECK(m.at("assignment_accuracy.depth1") == 1.0);
      CHECK(m.at("assignment_accuracy.depth2") == 1.0);
      CHECK(m.at("assignment_accuracy.depth3") == 0.0);
      CHECK(m.at("assignment_accuracy.depth4") == 0.0);
    }
  }
}

TEST_CASE("an explicit depth schedule trains what it schedules: depth 1 alone, then forgotten once only depths 2 - 4 are asked") {
  TempDir dir;
  const fs::path run = dir / "run";
  const ProcessResult r = run_mechlab({"run", source_dir() + "/configs/retrieval/quick_1layer.json", "train.steps=1500",
                                       "task.query_depth=schedule",
                                       R"(task.depth_schedule=[{"from_step": 0, "max_depth": 1}, {"from_step": 1000, "min_depth": 2, "max_depth": 4}])",
                                       "--out", run.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  std::map<int, double> depth1;  // step -> accuracy at depth 1
  std::ifstream in(run / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json record = nlohmann::json::parse(line);
    if (record.contains("accuracy.depth1")) depth1[record["step"].get<int>()] = record["accuracy.depth1"].get<double>();
  }
  REQUIRE(depth1.count(0));
  REQUIRE(depth1.count(1000));
  REQUIRE(depth1.count(1500));
  CHECK(depth1[0] < 0.2);
  CHECK(depth1[1000] >= 0.95);  // the first stage asks depth 1 only, which one layer solves
  CHECK(depth1[1500] < 0.7);    // the second never asks it, and the model loses it
}

TEST_CASE("scripts/figures/retrieval.py on dense runs: the assignment depth solved, when each depth passes 90%, how it grew, the loss plateaus") {
  if (!python_imports("numpy, matplotlib")) {
    skip_test("the figures need python3-numpy and python3-matplotlib (scripts/setup --figures installs them)");
    return;
  }
  // Two hand-made triple-token runs (two and three layers) of two seeds, D = 3, evaluated every 100 steps.
  // Seed 0 passes 90% at depth 1, 2, 3 at steps 100, 200, 400; seed 1 at 200 and 300, and never at depth 3.
  // The evaluation loss sits at 2 from step 100 to 300, then drops: one plateau.
  const std::vector<double> loss = {4, 2, 2, 2, 1};
  const std::vector<std::vector<std::vector<double>>> accuracy = {  // [seed][depth - 1][evaluation]
      {{0, .95, 1, 1, 1}, {0, .5, .92, 1, 1}, {0, .3, .4, .6, .91}},
      {{0, .5, .95, 1, 1}, {0, .4, .5, .95, .97}, {.3, .3, .3, .3, .3}}};
  TempDir dir;
  for (int layers : {2, 3}) {
    const fs::path run = dir / ("triple_L" + std::to_string(layers) + "_D3");
    const nlohmann::json config = {
        {"task", {{"steps", 3}, {"chains", 4}, {"layout", "triple_tokens"}, {"query_depth", "uniform"}}},
        {"model", {{"n_layers", layers}}}, {"train", {{"steps", 400}}}};
    fs::create_directories(run);
    write_text(run / "config.json", config.dump());
    for (size_t seed = 0; seed < accuracy.size(); ++seed) {
      std::string lines;
      for (int e = 0; e < 5; ++e) {
        nlohmann::json record = {{"step", 100 * e}, {"eval_loss", loss[e]}};
        for (int k = 1; k <= 3; ++k) {
          record["accuracy.depth" + std::to_string(k)] = 0.25;
          record["assignment_accuracy.depth" + std::to_string(k)] = accuracy[seed][k - 1][e];
        }
        lines += record.dump() + "\n";
      }
      fs::create_directories(run / ("replica_" + std::to_string(seed)));
      write_text(run / ("replica_" + std::to_string(seed)) / "metrics.jsonl", lines);
    }
  }
  const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/figures/retrieval.py " + dir.path().string() +
                              " --out " + (dir / "figures").string() + " --only emergence depth_law > " +
                              (dir / "figures.log").string() + " 2>&1";
  const int status = std::system(command.c_str());
  INFO(read_text(dir / "figures.log"));
  REQUIRE(status == 0);
  const nlohmann::json table = nlohmann::json::parse(read_text(dir / "figures" / "emergence.json"))["triple_L2_D3"];
  CHECK(table["assignment_depth_solved"] == nlohmann::json({3, 2}));
  CHECK(table["assignment_depth_pass"] == nlohmann::json({{"1", {100, 200}}, {"2", {200, 300}}, {"3", {400, nullptr}}}));
  CHECK(table["assignment_depth_solved_through_training"] ==
        nlohmann::json({{"100", {1, 0}}, {"200", {2, 1}}, {"300", {2, 2}}, {"400", {3, 2}}}));
  CHECK(table["per_seed"][0]["loss_plateaus"] == nlohmann::json::parse("[[100, 300, 2.0]]"));
  CHECK(read_text(dir / "figures" / "depth_law.png").substr(1, 3) == "PNG");
}

TEST_CASE("one layer at D = 2 beats guessing on depth 2 through the softmax normalisation (scripts/figures/retrieval_shortcut.py)") {
  if (!python_imports("numpy")) {
    skip_test("the shortcut script needs python3-numpy (scripts/setup --figures installs it)");
    return;
  }
  TempDir dir;
  const fs::path run = dir / "run";
  const ProcessResult r = run_mechlab({"run", source_dir() + "/configs/retrieval/pair_2layer.json", "model.n_layers=1",
                                       "model.d_model=64", "task.steps=2", "train.batch_size=128", "train.steps=4000",
                                       "seeds=[0]", "outputs.dumps=none", "--out", run.string()});
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/figures/retrieval_shortcut.py " + run.string() +
                              " --mechlab " + mechlab_binary() + " > " + (dir / "out.txt").string() + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string out = read_text(dir / "out.txt");
  INFO(out);
  REQUIRE(status == 0);
  auto number_after = [&](const std::string& text) {
    const size_t at = out.find(text);
    REQUIRE(at != std::string::npos);
    return std::stod(out.substr(at + text.size()));
  };
  CHECK(number_after("logit ") < 1e-4);                                  // its forward pass is ours
  CHECK(number_after("(guessing: 0.25): ") > 0.32);                       // better than guessing among the four
  CHECK(number_after("another chain's first variable: its value ") > number_after("the old answer ") + 0.1);
  CHECK(number_after("hop 1 pointing at an undefined variable: ") < 0.3);
  double strongest = 0;  // the most negative head correlation
  for (int h = 0; h < 4; ++h) strongest = std::min(strongest, number_after("head L0H" + std::to_string(h) + ": corr(preference for the linked value assignment, score for hop 1) = "));
  CHECK(strongest < -0.5);
}

TEST_CASE("the counting model of causal retrieval: two layers follow every order to depth 3, three to depth 4, deeper chains only some") {
  // scripts/figures/retrieval_causal_orders.py: the fractions of a chain's orders that L causal layers can follow
  // (docs/studies/retrieval.md quotes them beside the measured plateaus).
  if (!python_imports("itertools, json")) {
    skip_test("the counting model needs /usr/bin/python3");
    return;
  }
  TempDir dir;
  const fs::path table_path = dir / "fractions.json";
  const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/figures/retrieval_causal_orders.py" +
                              " --layers 1 2 3 --max-depth 5 --json " + table_path.string() + " > " +
                              (dir / "log").string() + " 2>&1";
  const int status = std::system(command.c_str());
  INFO(read_text(dir / "log"));
  REQUIRE(status == 0);
  const nlohmann::json f = nlohmann::json::parse(read_text(table_path));
  CHECK(f["1"]["1"].get<double>() == 1.0);
  CHECK(f["1"]["2"].get<double>() == 0.0);  // one layer composes nothing
  for (const char* depth : {"1", "2", "3"}) CHECK(f["2"][depth].get<double>() == 1.0);
  // Two layers at depth 4 only where hop 3's assignment comes after both of its neighbours: 8 of the 24 orders,
  // as the order split of a trained two-layer model found.
  CHECK(f["2"]["4"].get<double>() == doctest::Approx(1.0 / 3).epsilon(1e-12));
  CHECK(f["2"]["5"].get<double>() == 0.0);
  CHECK(f["3"]["4"].get<double>() == 1.0);
  CHECK(f["3"]["5"].get<double>() == 0.75);  // 90 of 120
}

TEST_CASE("the counting model set beside a measured order split groups each order by the count's verdict") {
  // retrieval_causal_orders.py --compare reads retrieval_order.py's table (hops listed by position). A synthetic
  // split at depth 5: accuracy 0.5 where hop 5's assignment comes after both hop 3's and hop 4's, 1 elsewhere.
  // The count misses 30 of those 40 orders, so the three groups must read 0.5, 0.5 and 1.
  if (!python_imports("itertools, json")) {
    skip_test("the counting model needs /usr/bin/python3");
    return;
  }
  TempDir dir;
  nlohmann::json orders = nlohmann::json::array();
  std::vector<int> sequence{1, 2, 3, 4, 5};
  do {
    const auto at = [&](int hop) { return std::find(sequence.begin(), sequence.end(), hop) - sequence.begin(); };
    const bool late_value = at(5) > at(3) && at(5) > at(4);
    orders.push_back({{"order", sequence}, {"count", 10}, {"accuracy", late_value ? 0.5 : 1.0}});
  } while (std::next_permutation(sequence.begin(), sequence.end()));
  const fs::path split = dir / "split.json";
  std::ofstream(split) << nlohmann::json{{"run", "synthetic"}, {"depth", 5}, {"accuracy", 5.0 / 6}, {"orders", orders}};
  const std::string command = "/usr/bin/python3 " + source_dir() + "/scripts/figures/retrieval_causal_orders.py" +
                              " --layers 3 --max-depth 5 --failing 3 5 --compare " + split.string() + " > " +
                              (dir / "log").string() + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string log = read_text(dir / "log");
  INFO(log);
  REQUIRE(status == 0);
  CHECK(log.find("| synthetic | 0.833 | 0.500 (30, 300) | 0.500 (10, 100) | 1.000 (80, 800) |") != std::string::npos);
}
