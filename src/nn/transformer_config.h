// Everything that defines a transformer's shape and behaviour. The JSON config's model section is bound
// to this struct key by key (config/run_schema.cpp): these initializers are the config's defaults, and
// docs/config.md documents each field.
#pragma once
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace mechlab {

// rotary: no position added to the input; queries and keys are rotated by their position (ops::rotary).
enum class Positions { learned, sinusoidal, rotary, none };
enum class LayerNormPlacement { pre, none };
enum class Activation { relu, gelu };
// token ids through W_E; continuous vectors through W_in; or two ids per position into [0, d_input), whose rows of
// W_in add: the one-hot pair [a; b] through W_in, without writing the one-hot (retrieval's pair tokens).
enum class InputKind { tokens, vectors, token_pairs };
// logits: unembedding to d_vocab; readout: a linear readout W_U to d_output; heads: the last block's heads
// write the output themselves (W_O is (H, E, d_output), no W_U), as He et al.'s O does.
enum class OutputKind { logits, readout, heads };
enum class InitScheme { pytorch, normal, zeros };

struct LayerSwitches {
  bool attention = true;
  bool mlp = true;
};

// How parameters start. pytorch: matrices and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as nn.Linear,
// embeddings N(0, 1) as nn.Embedding; normal: matrices and embeddings N(0, std), biases 0;
// zeros: every matrix, embedding and bias 0. LayerNorm weights start at 1 and biases at 0 in all three.
struct InitConfig {
  InitScheme scheme = InitScheme::pytorch;
  double std = 0.02;
};

struct TransformerConfig {
  int n_layers = 2;
  int n_heads = 4;
  int d_model = 64;
  int d_head = 0;  // 0: d_model / n_heads
  int d_mlp = 256;  // 0: attention-only
  int n_ctx = 0;    // longest sequence (size of learned positions); 0 in a config: the task's length
  int d_vocab = 0;  // 0 in a config: the task's vocabulary
  int d_input = 0;   // width of input vectors when input = vectors
  int d_output = 0;  // width of the readout when output = readout
  AttentionKind attention = AttentionKind::softmax;
  bool attention_excludes_self = false;  // query i sees keys j < i (query 0 nothing)
  double attention_scale = 0.0;  // 0: 1 / sqrt(d_head); scores = scale * q.k
  LayerNormPlacement layernorm = LayerNormPlacement::pre;
  bool layernorm_weight = true;  // LayerNorms have a weight (and a bias, see layernorm_bias)
  std::optional<bool> layernorm_bias;  // unset: a LayerNorm bias exactly when `biases`
  double layernorm_eps = 1e-5;
  Positions positions = Positions::learned;
  double rotary_base = 10000.0;  // positions rotary: angle t * base^(-2i/E)
  bool biases = true;
  Activation activation = Activation::gelu;
  InputKind input = InputKind::tokens;
  bool input_projection = true;  // vectors input: false feeds the vectors to the blocks as they are
  OutputKind output = OutputKind::logits;
  bool residual = true;
  std::vector<bool> attention_layers;  // per layer, false drops the attention sublayer; empty keeps all
  std::vector<bool> mlp_layers;        // per layer, false drops the MLP sublayer; empty keeps all
  InitConfig init;

  // The width the model outputs: d_vocab for logits, d_output otherwise.
  int output_width() const { return output == OutputKind::logits ? d_vocab : d_output; }
  int head_width() const { return d_head > 0 ? d_head : d_model / n_heads; }
  // Attention scores are score_scale() * q.k.
  double score_scale() const {
    return attention_scale > 0 ? attention_scale : 1.0 / std::sqrt(static_cast<double>(head_width()));
  }
  bool has_layernorm_bias() const { return layernorm_weight && layernorm_bias.value_or(biases); }
  LayerSwitches layer(int index) const {
    return {attention_layers.empty() || attention_layers[index], mlp_layers.empty() || mlp_layers[index]};
  }
  // Throws std::invalid_argument naming the offending field.
  void validate() const;
};

}  // namespace mechlab
