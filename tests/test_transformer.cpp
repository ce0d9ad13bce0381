// Transformer construction, initialisation, hook points and config variants.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "gradcheck.h"
#include "nn/transformer.h"
#include "ops/ops.h"

using namespace mechlab;

namespace {
TransformerConfig tiny() {
  TransformerConfig c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_model = 8;
  c.d_mlp = 16;
  c.n_ctx = 6;
  c.d_vocab = 5;
  c.init = {InitScheme::normal, 0.5};
  return c;
}

Tensor tokens_for(int64_t R) {
  std::vector<int32_t> ids(R * 2 * 6);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>((i * 7 + 3) % 5);
  return Tensor::from_vector<int32_t>({R, 2, 6}, ids);
}

double stddev(const std::vector<float>& values) {
  double sum = 0, squares = 0;
  for (float v : values) sum += v, squares += double(v) * v;
  const double mean = sum / values.size();
  return std::sqrt(squares / values.size() - mean * mean);
}
}  // namespace

TEST_CASE("parameters carry TransformerLens names and shapes after the replica axis") {
  TransformerConfig c = tiny();
  Transformer model(c, {{1, 0}, {1, 1}, {1, 2}});
  CHECK(model.parameter("embed.W_E").shape() == Shape{3, 5, 8});
  CHECK(model.parameter("pos_embed.W_pos").shape() == Shape{3, 6, 8});
  CHECK(model.parameter("blocks.1.attn.W_Q").shape() == Shape{3, 2, 8, 4});
  CHECK(model.parameter("blocks.1.attn.W_O").shape() == Shape{3, 2, 4, 8});
  CHECK(model.parameter("blocks.0.attn.b_K").shape() == Shape{3, 2, 4});
  CHECK(model.parameter("blocks.0.mlp.W_in").shape() == Shape{3, 8, 16});
  CHECK(model.parameter("blocks.0.ln2.w").shape() == Shape{3, 8});
  CHECK(model.parameter("unembed.W_U").shape() == Shape{3, 8, 5});
  CHECK_THROWS_AS(model.parameter("blocks.2.attn.W_Q"), std::out_of_range);
}

TEST_CASE("initialisation schemes") {
  TransformerConfig c = tiny();
  c.d_model = 64;
  c.n_heads = 4;
  c.d_vocab = 50;
  c.n_ctx = 64;
  c.init = {InitScheme::pytorch, 0.02};
  Transformer pytorch(c, {{1, 0}});
  // nn.Linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), std = bound / sqrt(3); nn.Embedding: N(0, 1).
  auto w_q = pytorch.parameter("blocks.0.attn.W_Q").to_vector<float>();
  const double bound = 1.0 / 8.0;
  for (float v : w_q) CHECK(std::abs(v) <= bound);
  CHECK(stddev(w_q) == doctest::Approx(bound / std::sqrt(3.0)).epsilon(0.05));
  CHECK(stddev(pytorch.parameter("blocks.0.attn.W_O").to_vector<float>()) ==
        doctest::Approx(1.0 / std::sqrt(64.0 * 3.0)).epsilon(0.05));
  CHECK(stddev(pytorch.parameter("embed.W_E").to_vector<float>()) == doctest::Approx(1.0).epsilon(0.05));
  for (float v : pytorch.parameter("blocks.0.ln1.w").to_vector<float>()) CHECK(v == 1.0f);

  c.init = {InitScheme::normal, 0.02};
  Transformer normal(c, {{1, 0}});
  CHECK(stddev(normal.parameter("blocks.0.mlp.W_in").to_vector<float>()) == doctest::Approx(0.02).epsilon(0.05));
  for (float v : normal.parameter("blocks.0.mlp.b_in").to_vector<float>()) CHECK(v == 0.0f);

  c.init = {InitScheme::zeros, 0.02};
  Transformer zeros(c, {{1, 0}});
  for (float v : zeros.parameter("unembed.W_U").to_vector<float>()) CHECK(v == 0.0f);

  // Replica r's initialisation depends on its id, not on what it is packed with.
  c.init = {InitScheme::pytorch, 0.02};
  Transformer packed(c, {{1, 4}, {1, 7}}), alone(c, {{1, 7}});
  auto packed_w = packed.parameter("blocks.1.attn.W_V").to_vector<float>();
  auto alone_w = alone.parameter("blocks.1.attn.W_V").to_vector<float>();
  CHECK(std::vector<float>(packed_w.begin() + alone_w.size(), packed_w.end()) == alone_w);
}

TEST_CASE("hooks read named activations and can replace them") {
  Transformer model(tiny(), {{2, 0}});
  Tensor tokens = tokens_for(1);
  NoGradGuard no_grad;
  ActivationHooks hooks;
  hooks.capture_all();
  Tensor logits = model.forward(tokens, &hooks);
  const Tensor& pattern = hooks.get("blocks.1.attn.hook_pattern");
  REQUIRE(pattern.shape() == Shape{1, 2, 2, 6, 6});  // (R, B, H, T, T)
  auto p = pattern.to_vector<float>();
  for (int row = 0; row < 2 * 2 * 6; ++row) {
    const int i = row % 6;
    double total = 0;
    for (int j = 0; j < 6; ++j) {
      total += p[row * 6 + j];
      if (j > i) CHECK(p[row * 6 + j] == 0.0f);
    }
    CHECK(total == doctest::Approx(1.0).epsilon(1e-6));
  }
  CHECK(hooks.get("blocks.0.attn.hook_q").shape() == Shape{1, 2, 6, 2, 4});  // (R, B, T, H, E)
  CHECK(hooks.get("blocks.0.hook_resid_post").shape() == Shape{1, 2, 6, 8});
  CHECK(hooks.captured().count("blocks.1.mlp.hook_post") == 1);

  // Replacing the last residual stream by zeros leaves only the unembedding bias in the logits.
  ActivationHooks ablate;
  ablate.replace("blocks.1.hook_resid_post", [](const Tensor& x) { return Tensor::zeros(x.shape()); });
  auto ablated = model.forward(tokens, &ablate).to_vector<float>();
  auto bias = model.parameter("unembed.b_U").to_vector<float>();
  for (size_t i = 0; i < ablated.size(); ++i) CHECK(ablated[i] == doctest::Approx(bias[i % 5]).epsilon(1e-5));
  CHECK(logits.to_vector<float>() != ablated);
}

TEST_CASE("config variants stay differentiable to double precision") {
  struct Variant {
    const char* name;
    void (*apply)(TransformerConfig&);
  };
  const std::vector<Variant> variants = {
      {"sinusoidal positions, relu MLP", [](TransformerConfig& c) { c.positions = Positions::sinusoidal; c.activation = Activation::relu; }},
      {"no biases, LayerNorm weight only", [](TransformerConfig& c) { c.biases = false; }},
      {"no biases in linear maps, LayerNorm with its bias (the Bigram-Backcopy authors' model)",
       [](TransformerConfig& c) { c.biases = false; c.layernorm_bias = true; }},
      {"biases in linear maps, LayerNorm without bias", [](TransformerConfig& c) { c.layernorm_bias = false; }},
      {"rotary positions", [](TransformerConfig& c) { c.positions = Positions::rotary; c.rotary_base = 2000.0; }},
      {"no LayerNorm, no positions", [](TransformerConfig& c) { c.layernorm = LayerNormPlacement::none; c.positions = Positions::none; }},
      {"attention-only", [](TransformerConfig& c) { c.d_mlp = 0; }},
      {"layer 0 without attention, layer 1 without MLP", [](TransformerConfig& c) { c.attention_layers = {false, true}; c.mlp_layers = {true, false}; }},
      {"token pairs", [](TransformerConfig& c) { c.input = InputKind::token_pairs; c.d_input = 5; }},
      {"vector input, linear readout", [](TransformerConfig& c) { c.input = InputKind::vectors; c.d_input = 3; c.output = OutputKind::readout; c.d_output = 2; }},
  };
  for (const Variant& v : variants) {
    TransformerConfig c = tiny();
    v.apply(c);
    if (c.activation == Activation::relu) c.init.std = 0.3;
    Transformer model(c, {{5, 0}}, DType::f64);
    Tensor input = c.input == InputKind::tokens        ? tokens_for(1)
                   : c.input == InputKind::token_pairs ? reshape(concat({tokens_for(1), tokens_for(1)}, 2), {1, 2, 6, 2})
                                                       : testing::random_tensor({1, 2, 6, 3}, 77);
    Tensor target = c.output == OutputKind::logits ? Tensor() : testing::random_tensor({1, 2, 6, 2}, 78);
    auto loss = [&] {
      Tensor out = model.forward(input);
      return sum(c.output == OutputKind::logits ? cross_entropy(out, tokens_for(1)) : mse(out, target), {0});
    };
    loss().backward();
    NoGradGuard no_grad;
    for (const NamedParameter& p : model.parameters()) {
      const double error = testing::finite_difference_error([&] { return loss().item(); }, p.value,
                                                            p.value.grad().to_vector<double>());
      INFO(v.name << ": " << p.name << " relative error " << error);
      CHECK(error < 1e-6);
    }
  }
}

TEST_CASE("invalid configs name the field") {
  TransformerConfig c = tiny();
  c.n_heads = 3;
  CHECK_THROWS_WITH_AS(Transformer(c, {{1, 0}}), "model.n_heads: must divide d_model (8) unless d_head is set",
                       std::invalid_argument);
  c = tiny();
  c.mlp_layers = {true};
  CHECK_THROWS_WITH_AS(Transformer(c, {{1, 0}}), "model.mlp_layers: needs one entry per layer (2) or none, got 1",
                       std::invalid_argument);
  Transformer model(tiny(), {{1, 0}});
  CHECK_THROWS_AS(model.forward(Tensor::zeros({1, 2, 7}, DType::i32)), std::invalid_argument);  // T > n_ctx
}

TEST_CASE("model.layernorm_bias gives LayerNorms a bias independently of the linear maps") {
  TransformerConfig c = tiny();
  c.biases = false;
  CHECK_FALSE(Transformer(c, {{1, 0}}).has_parameter("blocks.0.ln1.b"));  // unset: as biases
  c.layernorm_bias = true;
  const Transformer authors(c, {{1, 0}});
  for (const char* name : {"blocks.0.ln1.b", "blocks.0.ln2.b", "ln_final.b"}) CHECK(authors.has_parameter(name));
  for (const char* name : {"blocks.0.attn.b_Q", "blocks.0.mlp.b_in", "unembed.b_U"}) CHECK_FALSE(authors.has_parameter(name));
  c.biases = true;
  c.layernorm_bias = false;
  const Transformer no_norm_bias(c, {{1, 0}});
  CHECK_FALSE(no_norm_bias.has_parameter("ln_final.b"));
  CHECK(no_norm_bias.has_parameter("unembed.b_U"));
}

TEST_CASE("the model lists its hook points, refuses unknown ones, and knows pyvene's component names") {
  Transformer model(tiny(), {{2, 0}});
  NoGradGuard no_grad;
  ActivationHooks all;
  all.capture_all();
  model.forward(tokens_for(1), &all);
  std::vector<std::string> visited;
  for (const auto& [name, tensor] : all.captured()) visited.push_back(name);
  std::vector<std::string> listed = hook_point_names(model.config());
  std::sort(listed.begin(), listed.end());
  CHECK(visited == listed);  // every point the forward pass reaches, and no other

  ActivationHooks misspelt;
  misspelt.replace("blocks.1.hook_resid_pst", [](const Tensor& x) { return x; });
  CHECK_THROWS_WITH_AS(model.forward(tokens_for(1), &misspelt),
                       doctest::Contains("no hook point 'blocks.1.hook_resid_pst' in this model; did you mean "
                                         "blocks.1.hook_resid_post?"),
                       std::invalid_argument);
  ActivationHooks capture_missing;
  capture_missing.capture("blocks.2.hook_resid_post");  // the model has two layers
  CHECK_THROWS_AS(model.forward(tokens_for(1), &capture_missing), std::invalid_argument);

  CHECK(hook_name_of("block_output", 1) == "blocks.1.hook_resid_post");
  CHECK(hook_name_of("head_attention_value_output", 0) == "blocks.0.attn.hook_z");
  CHECK(hook_name_of("mlp_activation", 0) == "blocks.0.mlp.hook_post");
  CHECK(hook_name_of("no_such_component", 0).empty());
  for (const std::string& component : pyvene_components()) {
    INFO(component);
    CHECK_NOTHROW(check_hook_names({hook_name_of(component, 1)}, model.config()));
  }
}

TEST_CASE("a windowed forward pass equals the full one: later layers and positions from a base run") {
  // A patched pass (layer 1, position 3 of hook_z) computed in full and through a window that takes layer 0
  // and positions 0..2 from the unpatched base run; the base batch is tiled twice, as slot passes do.
  for (const Positions positions : {Positions::learned, Positions::sinusoidal, Positions::rotary}) {
    TransformerConfig c = tiny();
    c.positions = positions;
    Transformer model(c, {{4, 0}, {5, 0}}, DType::f64);
    const Tensor tokens = tokens_for(2);
    NoGradGuard no_grad;
    ActivationHooks base_hooks;
    base_hooks.capture_all();
    const Tensor base_output = model.forward(tokens, &base_hooks);
    auto patch = [](ActivationHooks& hooks) {
      hooks.replace("blocks.1.attn.hook_z", [](const Tensor& z) {
        // (R, B, T', H, E): add 0.5 at the window's first position (position 3) of head 1
        const int64_t rows = z.dim(2);
        std::vector<double> bump(z.numel(), 0.0);
        for (size_t i = 0; i < bump.size(); ++i) {
          const int64_t e = z.dim(4), h = (i / e) % z.dim(3), t = (i / (e * z.dim(3))) % rows;
          if (h == 1 && t == rows - 3) bump[i] = 0.5;
        }
        return add(z, Tensor::from_vector<double>(z.shape(), bump));
      });
    };
    const Tensor twice = concat({tokens, tokens}, 1);
    ActivationHooks full_hooks;
    patch(full_hooks);
    const std::vector<double> full = model.forward(twice, &full_hooks).to_vector<double>();
    ForwardWindow window;
    window.first_layer = 1;
    window.first_position = 3;
    for (int l = 0; l < 2; ++l) {
      window.resid_pre.push_back(base_hooks.get("blocks." + std::to_string(l) + ".hook_resid_pre"));
      window.keys.push_back(base_hooks.get("blocks." + std::to_string(l) + ".attn.hook_k"));
      window.values.push_back(base_hooks.get("blocks." + std::to_string(l) + ".attn.hook_v"));
      window.z.push_back(base_hooks.get("blocks." + std::to_string(l) + ".attn.hook_z"));
    }
    window.output = base_output;
    ActivationHooks window_hooks;
    patch(window_hooks);
    const Tensor windowed = model.forward(twice, &window_hooks, window);
    REQUIRE(windowed.shape() == Shape{2, 4, 6, 5});
    const std::vector<double> got = windowed.to_vector<double>();
    double worst = 0;
    for (size_t i = 0; i < full.size(); ++i) worst = std::max(worst, std::abs(full[i] - got[i]));
    CHECK(worst < 1e-12);
    CHECK(full != base_output.to_vector<double>());  // the patch changed something
    // From layer 0 too (the embedding of the later positions only).
    window.first_layer = 0;
    ActivationHooks layer0_hooks;
    patch(layer0_hooks);
    const std::vector<double> from_zero = model.forward(twice, &layer0_hooks, window).to_vector<double>();
    worst = 0;
    for (size_t i = 0; i < full.size(); ++i) worst = std::max(worst, std::abs(full[i] - from_zero[i]));
    CHECK(worst < 1e-12);
    // From layer 1's hook_z, every position after the patched one the base run's (the patch changes position 3
    // only), in the last layer and, from layer 0's hook_z, in a layer followed by another.
    for (const int layer : {1, 0}) {
      window.first_layer = layer;
      window.from_z = true;
      window.last_position = 3;
      ActivationHooks z_hooks;
      z_hooks.replace("blocks." + std::to_string(layer) + ".attn.hook_z", [](const Tensor& z) {
        std::vector<double> bump(z.numel(), 0.0);
        for (size_t i = 0; i < bump.size(); i += 7) bump[i] = 0.25;  // (R, B, 1, H, E): position 3 alone
        return add(z, Tensor::from_vector<double>(z.shape(), bump));
      });
      ActivationHooks z_full_hooks;
      z_full_hooks.replace("blocks." + std::to_string(layer) + ".attn.hook_z", [](const Tensor& z) {
        std::vector<double> bump(z.numel(), 0.0);
        const int64_t per_position = z.dim(3) * z.dim(4), positions = z.dim(2);
        for (int64_t rb = 0; rb < z.dim(0) * z.dim(1); ++rb)  // the same entries, at position 3 of the full pass
          for (int64_t k = 0; k < per_position; ++k) {
            const size_t window_index = static_cast<size_t>(rb * per_position + k);
            if (window_index % 7 == 0) bump[(rb * positions + 3) * per_position + k] = 0.25;
          }
        return add(z, Tensor::from_vector<double>(z.shape(), bump));
      });
      const std::vector<double> expected = model.forward(twice, &z_full_hooks).to_vector<double>();
      const std::vector<double> from_z = model.forward(twice, &z_hooks, window).to_vector<double>();
      REQUIRE(from_z.size() == expected.size());
      worst = 0;
      for (size_t i = 0; i < expected.size(); ++i) worst = std::max(worst, std::abs(expected[i] - from_z[i]));
      INFO("from layer " << layer << "'s hook_z");
      CHECK(worst < 1e-12);
      CHECK(expected != base_output.to_vector<double>());
    }
    // The output at one position per example: the last layer computed there alone (not with rotary
    // positions, whose query would need each example's own rotation).
    window.first_layer = 0;
    window.from_z = false;
    window.last_position = -1;
    if (positions == Positions::rotary) {
      CHECK_FALSE(model.supports_one_position());
      window.query_select = Tensor::zeros({2, 2, 1, 6}, DType::f64);
      CHECK_THROWS_AS(model.forward(twice, nullptr, window), std::invalid_argument);
      continue;
    }
    const std::vector<int64_t> at = {5, 3, 4, 2};  // (R, B) = (2, 2): replica-major
    std::vector<double> select(2 * 2 * 6, 0.0), mask(2 * 2 * 6, 0.0);
    for (int64_t e = 0; e < 4; ++e) {
      select[e * 6 + at[e]] = 1.0;
      for (int64_t t = at[e] + 1; t < 6; ++t) mask[e * 6 + t] = -std::numeric_limits<double>::infinity();
    }
    window.query_select = Tensor::from_vector<double>({2, 2, 1, 6}, select);
    window.key_mask = Tensor::from_vector<double>({2, 2, 1, 1, 6}, mask);
    ActivationHooks one_hooks;
    one_hooks.replace("blocks.0.attn.hook_z", [](const Tensor& z) { return scale(z, 0.5); });  // before the last layer
    ActivationHooks one_full_hooks;
    one_full_hooks.replace("blocks.0.attn.hook_z", [](const Tensor& z) {
      // the window computes positions 3..: halve those only, as the windowed pass does
      std::vector<double> factor(z.numel(), 1.0);
      const int64_t per_position = z.dim(3) * z.dim(4);
      for (size_t i = 0; i < factor.size(); ++i)
        if ((static_cast<int64_t>(i) / per_position) % z.dim(2) >= 3) factor[i] = 0.5;
      return mul(z, Tensor::from_vector<double>(z.shape(), factor));
    });
    const Tensor at_positions = model.forward(twice, &one_hooks, window);
    REQUIRE(at_positions.shape() == Shape{2, 4, 1, 5});
    const std::vector<double> picked = at_positions.to_vector<double>();
    const std::vector<double> every = model.forward(twice, &one_full_hooks).to_vector<double>();  // (2, 4, 6, 5)
    worst = 0;
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t b = 0; b < 4; ++b)
        for (int64_t v = 0; v < 5; ++v)
          worst = std::max(worst, std::abs(picked[(r * 4 + b) * 5 + v] - every[((r * 4 + b) * 6 + at[r * 2 + b % 2]) * 5 + v]));
    CHECK(worst < 1e-12);
  }
}

TEST_CASE("token pairs add two rows of W_in: the same model as one-hot [a; b] vectors through W_in") {
  TransformerConfig c = tiny();
  c.input = InputKind::vectors;
  c.d_input = 7;
  Transformer vectors(c, {{2, 0}, {3, 0}}, DType::f64);
  c.input = InputKind::token_pairs;
  Transformer pairs(c, {{2, 0}, {3, 0}}, DType::f64);
  for (const NamedParameter& p : pairs.parameters()) {  // the same initial values, parameter by parameter
    REQUIRE(vectors.has_parameter(p.name));
    CHECK(vectors.parameter(p.name).to_vector<double>() == p.value.to_vector<double>());
  }
  std::vector<int32_t> ids(2 * 2 * 6 * 2);
  std::vector<double> hot(2 * 2 * 6 * 7, 0.0);
  for (size_t i = 0; i < ids.size() / 2; ++i) {
    ids[2 * i] = static_cast<int32_t>(i % 3), ids[2 * i + 1] = static_cast<int32_t>(3 + (i * 5) % 4);
    hot[i * 7 + ids[2 * i]] = hot[i * 7 + ids[2 * i + 1]] = 1.0;
  }
  const std::vector<double> a = pairs.forward(Tensor::from_vector<int32_t>({2, 2, 6, 2}, ids)).to_vector<double>();
  const std::vector<double> b = vectors.forward(Tensor::from_vector<double>({2, 2, 6, 7}, hot)).to_vector<double>();
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
  CHECK(worst < 1e-12);
  CHECK_THROWS_AS(pairs.forward(Tensor::zeros({2, 2, 6, 3}, DType::i32)), std::invalid_argument);
}

TEST_CASE("rotary positions: a score depends on the distance between query and key, not on where they are") {
  // q at position t and k at position u give the same product as at t + s and u + s; the norm is unchanged.
  const int64_t E = 6;
  std::vector<double> qv(E), kv(E);
  for (int64_t i = 0; i < E; ++i) qv[i] = std::sin(1.0 + i), kv[i] = std::cos(0.3 * i);
  const Tensor q = Tensor::from_vector<double>({1, E}, qv), k = Tensor::from_vector<double>({1, E}, kv);
  auto rotated_at = [&](const Tensor& x, int64_t t) {
    const auto [cos, sin] = rotary_tables(t, t + 1, E, 2000.0, DType::f64, Device::cpu);
    return rotary(x, cos, sin);
  };
  auto score = [&](int64_t t, int64_t u) {
    return sum(mul(rotated_at(q, t), rotated_at(k, u)), {0, 1}).to_vector<double>()[0];
  };
  CHECK(score(5, 2) == doctest::Approx(score(12, 9)).epsilon(1e-12));
  CHECK(score(5, 2) != doctest::Approx(score(5, 4)).epsilon(1e-3));  // and it does depend on the distance
  CHECK(score(0, 0) == doctest::Approx(sum(mul(q, k), {0, 1}).to_vector<double>()[0]).epsilon(1e-12));
  const double before = sum(square(q), {0, 1}).to_vector<double>()[0];
  CHECK(sum(square(rotated_at(q, 9)), {0, 1}).to_vector<double>()[0] == doctest::Approx(before).epsilon(1e-12));
  // A model with rotary positions has no position parameters, and rotated queries and keys as hook points.
  TransformerConfig c = tiny();
  c.positions = Positions::rotary;
  Transformer model(c, {{1, 0}}, DType::f64);
  CHECK_FALSE(model.has_parameter("pos_embed.W_pos"));
  ActivationHooks hooks;
  hooks.capture("blocks.1.attn.hook_rot_k");
  model.forward(tokens_for(1), &hooks);
  CHECK(hooks.get("blocks.1.attn.hook_rot_k").shape() == Shape{1, 2, 6, 2, 4});
  c.d_head = 3;
  CHECK_THROWS_WITH_AS(Transformer(c, {{1, 0}}), doctest::Contains("model.d_head: must be even for rotary"),
                       std::invalid_argument);
}
