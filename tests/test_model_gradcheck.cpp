// Whole-model gradient check: a 2-layer, 2-head transformer with MLP and LayerNorm, in double precision,
// for each attention kind; every parameter's gradient against central finite differences.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "gradcheck.h"
#include "nn/transformer.h"
#include "config/enum_names.h"
#include "ops/ops.h"

using namespace mechlab;

namespace {
TransformerConfig small_config(AttentionKind kind) {
  TransformerConfig c;
  c.n_layers = 2;
  c.n_heads = 2;
  c.d_model = 8;
  c.d_mlp = 16;
  c.n_ctx = 5;
  c.d_vocab = 7;
  c.attention = kind;
  c.init = {InitScheme::normal, 0.5};
  return c;
}

// The worst finite_difference_error over all parameters, and which parameter it was.
double worst_parameter_error(const Transformer& model, const Tensor& tokens, const Tensor& targets, std::string& worst) {
  auto loss_of = [&] { return sum(cross_entropy(model.forward(tokens), targets), {0}); };
  loss_of().backward();
  NoGradGuard no_grad;
  double worst_error = 0.0;
  for (const NamedParameter& p : model.parameters()) {
    const double error = testing::finite_difference_error([&] { return loss_of().item(); }, p.value,
                                                          p.value.grad().to_vector<double>());
    if (error > worst_error) {
      worst_error = error;
      worst = p.name;
    }
  }
  return worst_error;
}
}  // namespace

TEST_CASE("whole-model gradients match finite differences for every parameter and attention kind") {
  // R = 2 replicas, B = 2, T = 5; ids are arbitrary but fixed.
  Tensor tokens = Tensor::from_vector<int32_t>({2, 2, 5}, {0, 3, 1, 6, 2, 5, 5, 0, 1, 4, 2, 2, 6, 0, 3, 1, 4, 6, 3, 0});
  Tensor targets = Tensor::from_vector<int32_t>({2, 2, 5}, {3, 1, 6, 2, 5, 5, 0, 1, 4, 2, 2, 6, 0, 3, 1, 4, 6, 3, 0, 1});
  for (AttentionKind kind : {AttentionKind::softmax, AttentionKind::relu, AttentionKind::relu_by_length, AttentionKind::linear,
                            AttentionKind::linear_by_length}) {
    Transformer model(small_config(kind), {{7, 0}, {7, 1}}, DType::f64);
    std::string worst;
    const double error = worst_parameter_error(model, tokens, targets, worst);
    INFO("attention kind " << static_cast<int>(kind) << ": worst relative error " << error << " in " << worst);
    CHECK(model.parameters().size() == 2 + 2 * 16 + 4);  // embeddings, 16 per block, ln_final and unembed
    CHECK(error < 1e-6);
  }
}

TEST_CASE("in-context regression models (no residual, LayerNorm or biases; vector input) match finite differences") {
  // He et al.'s model (output heads: O maps the heads to the prediction, 228 parameters for d = 5, H = 2) and
  // the same with a readout matrix W_U after W_O; softmax and linear attention, the query excluding itself.
  struct Variant {
    OutputKind output;
    AttentionKind attention;
    int64_t parameters;
  };
  for (const Variant& v : {Variant{OutputKind::heads, AttentionKind::softmax, 3 * 2 * 6 * 6 + 2 * 6},
                           Variant{OutputKind::readout, AttentionKind::softmax, 3 * 2 * 6 * 6 + 2 * 6 * 6 + 6},
                           Variant{OutputKind::heads, AttentionKind::linear, 228},
                           Variant{OutputKind::heads, AttentionKind::linear_by_length, 228}}) {
    TransformerConfig c;
    c.n_layers = 1;
    c.n_heads = 2;
    c.d_model = 6;
    c.d_head = 6;  // full-width heads
    c.d_mlp = 0;
    c.input = InputKind::vectors;
    c.d_input = 6;
    c.input_projection = false;
    c.output = v.output;
    c.d_output = 1;
    c.positions = Positions::none;
    c.layernorm = LayerNormPlacement::none;
    c.biases = false;
    c.residual = false;
    c.attention = v.attention;
    c.attention_excludes_self = true;
    c.init = {InitScheme::normal, 0.5};
    Transformer model(c, {{3, 0}}, DType::f64);
    INFO(name_of(v.output) << " output, " << name_of(v.attention) << " attention");
    CHECK(model.parameter_count() == v.parameters);
    std::vector<double> values(1 * 3 * 4 * 6), targets(1 * 3 * 4);
    for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.7 * static_cast<double>(i));
    for (size_t i = 0; i < targets.size(); ++i) targets[i] = std::cos(1.3 * static_cast<double>(i));
    const Tensor input = Tensor::from_vector<double>({1, 3, 4, 6}, values);
    const Tensor target = Tensor::from_vector<double>({1, 3, 4, 1}, targets);
    auto loss_of = [&] { return sum(mse(model.forward(input), target), {0}); };
    loss_of().backward();
    NoGradGuard no_grad;
    for (const NamedParameter& p : model.parameters()) {
      const double error = testing::finite_difference_error([&] { return loss_of().item(); }, p.value,
                                                            p.value.grad().to_vector<double>());
      INFO(p.name << " relative error " << error);
      CHECK(error < 1e-6);
    }
  }
}
