// Sweep specs: the runs `mechlab sweep plan` lists for product, zip and nested blocks, ranges and seeds; the
// content hash (the same run hashes the same from any spec); packing by seed; bad specs exit 2 naming the path.
#include <doctest/doctest.h>

#include <fstream>
#include <set>

#include "config/config_error.h"
#include "subprocess.h"
#include "sweep/sweep_plan.h"

using namespace mechlab;
using namespace mechlab::testing;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
const std::string kBase = "configs/bigram_backcopy/quick.json";

json spec_with(json axes, json seeds = json()) {
  json s = {{"name", "t"}, {"base", {{"config", source_dir() + "/" + kBase}, {"overrides", {{"train.steps", 20}}}}}};
  if (!axes.is_null()) s["axes"] = axes;
  if (!seeds.is_null()) s["seeds"] = seeds;
  return s;
}

// Each point as "key=value ..." without the base overrides.
std::vector<std::string> points(const SweepSpec& spec) {
  std::vector<std::string> out;
  for (const SweepPoint& p : spec.points) {
    std::string text;
    for (const SweepAssignment& a : p) {
      if (a.from.rfind("base.", 0) == 0) continue;
      if (!text.empty()) text += ' ';
      text += override_text(a);
    }
    out.push_back(text);
  }
  return out;
}

std::string error_of(const json& spec) {
  try {
    plan_sweep(sweep_spec_from_json(spec));
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("sweep spec: product, zip, nested blocks, ranges and log-ranges expand to exactly the expected points") {
  // A product of lists (first key slowest; keys of one object in alphabetical order).
  CHECK(points(sweep_spec_from_json(spec_with({{"product", {{"model.d_model", {32, 64}}, {"model.n_heads", {1, 2}}}}}))) ==
        std::vector<std::string>{"model.d_model=32 model.n_heads=1", "model.d_model=32 model.n_heads=2",
                                 "model.d_model=64 model.n_heads=1", "model.d_model=64 model.n_heads=2"});
  // A zip pairs the i-th values; a range excludes its stop.
  CHECK(points(sweep_spec_from_json(spec_with({{"zip", {{"model.d_model", {{"range", {16, 49, 16}}}}, {"train.steps", {10, 20, 30}}}}}))) ==
        std::vector<std::string>{"model.d_model=16 train.steps=10", "model.d_model=32 train.steps=20",
                                 "model.d_model=48 train.steps=30"});
  // Nested: a product of a list axis and a zip block, the list given first by a list of members.
  const json nested = {{"product", json::array({{{"model.n_layers", {1, 2}}},
                                                {{"zip", {{"model.d_model", {32, 64}}, {"model.d_mlp", {128, 256}}}}}})}};
  CHECK(points(sweep_spec_from_json(spec_with(nested))) ==
        std::vector<std::string>{"model.n_layers=1 model.d_mlp=128 model.d_model=32",
                                 "model.n_layers=1 model.d_mlp=256 model.d_model=64",
                                 "model.n_layers=2 model.d_mlp=128 model.d_model=32",
                                 "model.n_layers=2 model.d_mlp=256 model.d_model=64"});
  // An axis replaces the base's override of the same key (train.steps is 20 in the base).
  const SweepSpec replaced = sweep_spec_from_json(spec_with({{"product", {{"train.steps", {5}}}}}));
  REQUIRE(replaced.points.size() == 1);
  REQUIRE(replaced.points[0].size() == 1);
  CHECK(override_text(replaced.points[0][0]) == "train.steps=5");
  // A log range includes both ends.
  const SweepSpec logs = sweep_spec_from_json(spec_with({{"product", {{"optim.lr", {{"log_range", {1e-4, 1e-2, 3}}}}}}}));
  REQUIRE(logs.points.size() == 3);
  const double expected[] = {1e-4, 1e-3, 1e-2};
  for (size_t i = 0; i < 3; ++i) CHECK(logs.points[i].back().value.get<double>() == doctest::Approx(expected[i]).epsilon(1e-12));
}

TEST_CASE("sweep plan: one run per point and seed, packed by seed; identical runs hash identically") {
  json spec = spec_with({{"product", {{"model.n_heads", {1, 2}}}}}, {{"range", {0, 5}}});
  spec["pack"] = 3;
  const SweepPlan plan = plan_sweep(sweep_spec_from_json(spec));
  REQUIRE(plan.runs.size() == 10);
  CHECK(plan.packs.size() == 4);  // each point's 5 seeds as packs of 3 and 2
  CHECK(plan.packs[0].runs == std::vector<size_t>{0, 1, 2});
  CHECK(plan.packs[1].runs == std::vector<size_t>{3, 4});
  std::set<std::string> hashes;
  for (const SweepRun& run : plan.runs) {
    hashes.insert(run.hash);
    CHECK(run.config["seed"].get<uint64_t>() == run.seed);
    CHECK(run.config["seeds"].empty());
  }
  CHECK(hashes.size() == 10);
  for (const SweepPack& pack : plan.packs) CHECK(pack.flops > 0);
  // The same run from another spec (the override given in the base instead of an axis, another name for the
  // sweep, the seeds as a list) hashes the same; the output directory and thread count do not count.
  json other = spec_with(json(), {3});
  other["name"] = "other";
  other["base"]["overrides"]["model.n_heads"] = 2;
  other["base"]["overrides"]["outputs.dir"] = "/tmp/elsewhere";
  other["base"]["overrides"]["train.threads"] = 1;
  const SweepPlan same = plan_sweep(sweep_spec_from_json(other));
  REQUIRE(same.runs.size() == 1);
  CHECK(same.runs[0].hash == plan.runs[8].hash);  // n_heads 2, seed 3
  other["base"]["overrides"]["train.steps"] = 21;
  CHECK(plan_sweep(sweep_spec_from_json(other)).runs[0].hash != plan.runs[8].hash);
  // Runs that differ only in learning rate pack together too: one learning rate per replica.
  const SweepPlan rates = plan_sweep(sweep_spec_from_json(spec_with({{"product", {{"optim.lr", {1e-3, 2e-3}}}}}, {0, 1})));
  REQUIRE(rates.packs.size() == 1);
  CHECK(rates.packs[0].config["seeds"] == json({0, 1, 0, 1}));
  CHECK(rates.packs[0].config["optim"]["lr"] == json({1e-3, 1e-3, 2e-3, 2e-3}));
  CHECK(rates.runs[3].replica == 3);
  // Without seeds in the spec, the base config's own seed.
  CHECK(plan_sweep(sweep_spec_from_json(spec_with(json()))).runs.size() == 1);
}

TEST_CASE("sweep spec: a bad spec is one error naming its JSON path; the CLI exits 2 and writes nothing") {
  CHECK(error_of(json{{"name", "t"}, {"base", {{"config", source_dir() + "/" + kBase}}}, {"axis", json::object()}})
            .rfind("axis: is not a key of a sweep spec; did you mean axes?", 0) == 0);  // the closest known key
  CHECK(error_of(spec_with({{"zip", {{"model.d_model", {32, 64}}, {"model.n_heads", {1, 2, 4}}}}}))
            .rfind("axes.zip: zips axes of unequal lengths (2 and 3)", 0) == 0);
  CHECK(error_of(spec_with({{"product", {{"model.d_model", json::array()}}}})).rfind("axes.product.model.d_model: is an empty axis", 0) == 0);
  CHECK(error_of(spec_with({{"product", {{"model.d_model", {{"range", {64, 32}}}}}}})).rfind("axes.product.model.d_model.range:", 0) == 0);
  CHECK(error_of(spec_with({{"product", {{"model.n_layerz", {1, 2}}}}})).rfind("axes.product.model.n_layerz:", 0) == 0);
  CHECK(error_of(spec_with({{"product", {{"model.d_model", {-8}}}}})).rfind("axes.product.model.d_model:", 0) == 0);
  CHECK(error_of(spec_with({{"product", json::array({{{"train.steps", {1}}}, {{"train.steps", {2}}}})}}))
            .find("sets train.steps again") != std::string::npos);
  CHECK(error_of(spec_with({{"mix", {{"model.d_model", {32}}}}})).rfind("axes: must be {\"product\"", 0) == 0);
  json spaced = spec_with(json());
  spaced["name"] = "my sweep";
  CHECK(error_of(spaced).rfind("name: 'my sweep' cannot name a sweep", 0) == 0);
  json missing = spec_with(json());
  missing["base"]["config"] = "no/such.json";
  CHECK(error_of(missing).rfind("base.config:", 0) == 0);

  TempDir dir;
  const fs::path file = dir / "bad.json";
  std::ofstream(file) << spec_with({{"zip", {{"model.d_model", {32, 64}}, {"model.n_heads", {1}}}}}).dump();
  const ProcessResult bad = run_mechlab({"sweep", "plan", file.string()}, dir.path());
  CHECK(bad.exit_code == 2);
  CHECK(bad.err.find("axes.zip: zips axes of unequal lengths") != std::string::npos);
  const fs::path good = dir / "good.json";
  std::ofstream(good) << spec_with({{"product", {{"model.n_heads", {1, 2}}}}}, {0, 1, 2}).dump();
  const ProcessResult planned = run_mechlab({"sweep", "plan", good.string()}, dir.path());
  CHECK(planned.exit_code == 0);
  CHECK(planned.out.find("6 runs in 2 packs") != std::string::npos);
  CHECK(planned.out.find("model.n_heads=2") != std::string::npos);
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.path().filename() != "bad.json" && e.path().filename() != "good.json";
  CHECK(entries == 0);  // a dry run writes nothing
}

TEST_CASE("configs/sweeps: every study's sweep spec plans from the source tree") {
  int specs = 0;
  for (const auto& entry : fs::directory_iterator(source_dir() + "/configs/sweeps")) {
    if (entry.path().extension() != ".json") continue;
    ++specs;
    const ProcessResult planned = run_mechlab({"sweep", "plan", entry.path().string()}, source_dir());
    INFO(entry.path().string(), planned.err);
    CHECK(planned.exit_code == 0);
    CHECK(planned.out.find(" runs in ") != std::string::npos);
  }
  CHECK(specs >= 2);
}
