#include "nn/transformer_config.h"

#include <stdexcept>

namespace mechlab {

namespace {
void require(bool ok, const std::string& field, const std::string& what) {
  if (!ok) throw std::invalid_argument("model." + field + ": " + what);
}
}  // namespace

void TransformerConfig::validate() const {
  require(n_layers >= 1, "n_layers", "must be at least 1");
  require(n_heads >= 1, "n_heads", "must be at least 1");
  require(d_model >= 1, "d_model", "must be at least 1");
  require(d_head >= 0, "d_head", "must be 0 (d_model / n_heads) or positive");
  require(d_head > 0 || d_model % n_heads == 0, "n_heads",
          "must divide d_model (" + std::to_string(d_model) + ") unless d_head is set");
  require(d_mlp >= 0, "d_mlp", "must be 0 (attention-only) or positive");
  require(positions != Positions::learned || n_ctx >= 1, "n_ctx", "must be at least 1 for learned positions");
  require(positions != Positions::rotary || head_width() % 2 == 0, "d_head",
          "must be even for rotary positions (features are rotated in pairs), got " + std::to_string(head_width()));
  require(rotary_base > 1.0, "rotary_base", "must be greater than 1");
  require(input != InputKind::tokens || d_vocab >= 1, "d_vocab", "must be at least 1 for token input");
  require(output != OutputKind::logits || d_vocab >= 1, "d_vocab", "must be at least 1 for logits output");
  require(input != InputKind::vectors || d_input >= 1, "d_input", "must be at least 1 for vector input");
  require(input != InputKind::token_pairs || d_input >= 1, "d_input", "must be at least 1 (the ids' range) for token pairs");
  require(input != InputKind::vectors || input_projection || d_input == d_model, "d_input",
          "must equal d_model when input_projection is false");
  require(output == OutputKind::logits || d_output >= 1, "d_output", "must be at least 1 for a readout");
  const bool last_attends = layer(n_layers - 1).attention, last_mlp = layer(n_layers - 1).mlp && d_mlp > 0;
  require(output != OutputKind::heads || (!residual && last_attends && !last_mlp && layernorm == LayerNormPlacement::none),
          "output", "heads needs residual false, attention and no MLP in the last layer, and layernorm none "
                    "(the heads' output is the model's output)");
  require(attention_scale >= 0.0, "attention_scale", "must be 0 (1/sqrt(d_head)) or positive");
  require(layernorm_eps > 0.0, "layernorm_eps", "must be positive");
  require(init.std > 0.0, "init.std", "must be positive");
  for (const auto& [switches, name] : {std::pair{&attention_layers, "attention_layers"}, {&mlp_layers, "mlp_layers"}})
    require(switches->empty() || static_cast<int>(switches->size()) == n_layers, name,
            "needs one entry per layer (" + std::to_string(n_layers) + ") or none, got " +
                std::to_string(switches->size()));
}

}  // namespace mechlab
