// Several seeds in one process: each replica's directory has the layout of a single run, and its
// results are bitwise those of that seed trained alone.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "subprocess.h"

using namespace mechlab::testing;
namespace fs = std::filesystem;

TEST_CASE("replica r of a packed run is byte-identical to its seed trained alone") {
  TempDir dir;
  write_text(dir / "config.json", R"({
    "name": "replicas", "seeds": [3, 4],
    "task": {"name": "bigram_backcopy", "seq_len": 16},
    "model": {"n_layers": 1, "n_heads": 2, "d_model": 16, "d_mlp": 32},
    "optim": {"lr": [3e-3, 1e-3]},
    "train": {"steps": 60, "batch_size": 8, "eval_every": 30, "eval_batch_size": 16, "checkpoint_every": 30},
    "outputs": {"dumps": "every", "dump_every": 30, "probe_batch_size": 2}
  })");
  const std::string config = (dir / "config.json").string();
  REQUIRE(run_mechlab({"run", config, "--out", (dir / "packed").string()}).exit_code == 0);
  REQUIRE(run_mechlab({"run", config, "--out", (dir / "alone").string(), "seeds=[4]", "optim.lr=1e-3"}).exit_code == 0);

  const fs::path replica = dir / "packed" / "replica_1", alone = dir / "alone";
  for (const char* file : {"config.json", "summary.json", "metrics.jsonl", "checkpoints/step_00000060.safetensors",
                           "dumps/probe_tokens.npy", "dumps/step_00000060/blocks.0.attn.hook_pattern.npy"}) {
    INFO(file);
    REQUIRE(fs::exists(replica / file));
    REQUIRE(fs::exists(alone / file));
  }
  for (const char* file : {"checkpoints/step_00000060.safetensors", "dumps/probe_tokens.npy",
                           "dumps/step_00000060/blocks.0.attn.hook_pattern.npy", "dumps/step_00000060/logits.npy"}) {
    INFO(file);
    CHECK(read_text(replica / file) == read_text(alone / file));
  }
  auto seed_of = [](const fs::path& p) { return nlohmann::json::parse(read_text(p / "summary.json"))["seed"]; };
  CHECK(seed_of(replica) == 4);
  CHECK(seed_of(dir / "packed" / "replica_0") == 3);
  CHECK(read_text(dir / "packed" / "replica_0" / "checkpoints/step_00000060.safetensors") !=
        read_text(replica / "checkpoints/step_00000060.safetensors"));
}
