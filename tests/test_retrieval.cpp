// Multi-step retrieval: the chain process (distinct variables, the query k hops from its answer, the depth
// distributions), the batches of both layouts (inputs, targets, loss masks, a finite training set), and a short
// training run in which one layer solves depth 1 and no deeper query.
#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "config/run_schema.h"
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

TEST_CASE("retrieval batches: pair and triple layouts, query-only and dense targets, a finite training set") {
  const std::vector<ReplicaKey> keys = {{5, 0}, {6, 1}};
  {
    const RetrievalTask task(options());
    const Batch b = task.sample(keys, 8, RandomStream::data, 0);
    REQUIRE(b.inputs.shape() == Shape{2, 8, 17, 65 + 80});
    const std::vector<float> x = b.inputs.to_vector<float>(), mask = b.loss_mask.to_vector<float>();
    for (int64_t row = 0; row < 2 * 8 * 17; ++row) {
      double ones = 0;
      for (int64_t w = 0; w < 145; ++w) ones += x[row * 145 + w];
      CHECK(ones == 2.0);  // one lhs, one rhs
    }
    for (int64_t e = 0; e < 16; ++e) {
      CHECK(x[(e * 17 + 16) * 145 + 64] == 1.0f);  // the query's lhs is '?'
      double counted = 0;
      for (int64_t t = 0; t < 17; ++t) counted += mask[e * 17 + t];
      CHECK(counted == 1.0);
    }
  }
  {
    const RetrievalTask task(options({{"layout", "triple_tokens"}, {"target", "dense"}}));
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
    std::set<std::vector<float>> seen;
    for (uint32_t step = 0; step < 20; ++step) {
      const std::vector<float> x = task.sample({{5, 0}}, 4, RandomStream::data, step).inputs.to_vector<float>();
      for (int b = 0; b < 4; ++b) seen.insert(std::vector<float>(x.begin() + b * 17 * 145, x.begin() + (b + 1) * 17 * 145));
    }
    CHECK(seen.size() == 3);
    // Evaluation examples are fresh.
    const std::vector<float> eval = task.sample({{5, 0}}, 64, RandomStream::eval_data, 0).inputs.to_vector<float>();
    std::set<std::vector<float>> eval_seen;
    for (int b = 0; b < 64; ++b) eval_seen.insert(std::vector<float>(eval.begin() + b * 17 * 145, eval.begin() + (b + 1) * 17 * 145));
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
}
