// Bigram-Backcopy task options and analyses below the training loop: sequences without BOS, the probe batch
// of the active/dormant classification, and the interventions.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "task/registry.h"
#include "tasks/bigram_backcopy/active_dormant.h"
#include "tasks/bigram_backcopy/interventions.h"
#include "tensor/replica_slice.h"

using namespace mechlab;

TEST_CASE("bigram-backcopy with bos false: sequences start with a non-trigger character and follow the rules") {
  const nlohmann::json options{{"name", "bigram_backcopy"}, {"seq_len", 64}, {"n_triggers", 3}, {"bos", false},
                               {"interventions", false}};
  const auto task = make_task(options);
  const BigramBackcopyProcess process;
  const Batch batch = task->sample({{5, 0}}, 200, RandomStream::data, 3);
  const int64_t B = batch.inputs.dim(1), T = batch.inputs.dim(2);
  REQUIRE(T == 64);
  const std::vector<int32_t> x = batch.inputs.to_vector<int32_t>(), y = batch.targets.to_vector<int32_t>();
  bool rules_hold = true;
  int64_t copies = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* in = &x[b * T];
    const int32_t* out = &y[b * T];
    rules_hold &= !process.is_trigger(in[0]);
    for (int64_t i = 0; i < T; ++i) rules_hold &= in[i] != process.bos() && out[i] != process.bos();
    for (int64_t i = 0; i + 1 < T; ++i) rules_hold &= out[i] == in[i + 1];  // targets are the inputs shifted
    for (int64_t i = 1; i < T; ++i)
      if (process.is_trigger(in[i])) {
        rules_hold &= out[i] == in[i - 1];
        ++copies;
      }
  }
  CHECK(rules_hold);
  CHECK(copies > B * T / 10);
}

TEST_CASE("active/dormant probe: [<s>, non-trigger prefix, v] for every character v, prefixes shared across v") {
  const BigramBackcopyProcess process;
  const int64_t prefixes = 3, length = 20, V = process.vocab_size() - 1;
  for (bool bos : {true, false}) {
    const Tensor probe = active_dormant_probe(process, bos, prefixes, length);
    REQUIRE(probe.shape() == Shape{prefixes * V, length});
    const std::vector<int32_t> t = probe.to_vector<int32_t>();
    bool well_formed = true;
    for (int64_t p = 0; p < prefixes; ++p)
      for (int64_t v = 0; v < V; ++v) {
        const int32_t* row = &t[(p * V + v) * length];
        const int32_t* first_row = &t[(p * V) * length];
        well_formed &= (row[0] == process.bos()) == bos;
        for (int64_t i = bos ? 1 : 0; i < length - 1; ++i)
          well_formed &= row[i] >= 0 && row[i] < process.bos() && !process.is_trigger(row[i]) && row[i] == first_row[i];
        well_formed &= row[length - 1] == v;
      }
    CHECK(well_formed);
    // Different prefixes differ.
    CHECK(!std::equal(&t[1], &t[length - 1], &t[V * length + 1]));
  }
}

TEST_CASE("zeroing every head of a layer equals a model whose W_O is zero; one head has no such intervention") {
  TransformerConfig c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_model = 16;
  c.d_mlp = 32;
  c.n_ctx = 12;
  c.d_vocab = 66;
  c.biases = false;
  const auto task = make_task({{"name", "bigram_backcopy"}, {"seq_len", 12}, {"n_triggers", 3}, {"bos", true},
                               {"interventions", true}});
  const Batch batch = task->sample({{1, 0}}, 8, RandomStream::eval_data, 0);
  Transformer model(c, {{1, 0}});
  std::vector<std::string> labels;
  for (const Intervention& i : bigram_backcopy_interventions(c)) labels.push_back(i.label);
  REQUIRE(std::find(labels.begin(), labels.end(), "zero_heads.L1") != labels.end());
  ActivationHooks hooks;
  for (const Intervention& i : bigram_backcopy_interventions(c))
    if (i.label == "zero_heads.L1") i.install(hooks);
  const std::vector<float> zeroed = model.forward(batch.inputs, &hooks).to_vector<float>();
  Tensor W_O = model.parameter("blocks.1.attn.W_O");
  set_replica_slice(W_O, 0, Tensor::zeros({2, 8, 16}));
  const std::vector<float> without = model.forward(batch.inputs).to_vector<float>();
  CHECK(zeroed == without);
  c.n_heads = 1;
  for (const Intervention& i : bigram_backcopy_interventions(c)) CHECK(i.label.rfind("zero_heads", 0) != 0);
}
