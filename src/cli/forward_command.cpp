// mechlab forward CHECKPOINT --input tokens.npy --out logits.npy [--targets t.npy --grads g.safetensors]:
// runs a checkpoint on given inputs; with targets, also the gradient of the mean loss with respect to
// every parameter, under the checkpoint's parameter names and shapes.
#include <fmt/format.h>

#include "cli/commands.h"
#include "config/config_error.h"
#include "config/run_config.h"
#include "config/run_schema.h"
#include "io/checkpoint.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "tensor/replica_slice.h"

namespace mechlab::cli {

namespace {
struct ForwardOptions {
  std::string checkpoint, input, out, targets, grads;
  bool f64 = false;
};

// A tensor from a file as the model's batch of one replica: (B, T) -> (1, B, T).
Tensor as_one_replica(const Tensor& x) {
  Shape shape{1};
  shape.insert(shape.end(), x.shape().begin(), x.shape().end());
  return x.view(shape);
}

int forward(const ForwardOptions& o) {
  CheckpointInfo info = read_checkpoint_info(o.checkpoint);
  // Resolved again: a checkpoint of an older mechlab lacks the keys added since (they take their defaults).
  RunConfig run = run_config_from_resolved(run_schema().resolve(info.config));
  const DType dtype = o.f64 ? DType::f64 : DType::f32;
  Transformer model(run.model, {{run.seeds[0], 0}}, dtype);
  load_checkpoint(o.checkpoint, model, nullptr, 0);

  const bool tokens = run.model.input == InputKind::tokens;
  Tensor input = load_npy(o.input);
  if (input.ndim() != (tokens ? 2 : 3))
    throw ConfigError("--input", fmt::format("expected {} but {} has shape {}", tokens ? "token ids (B, T)" : "vectors (B, T, d_input)",
                                             o.input, to_string(input.shape())));
  if (!tokens) input = input.to(dtype);
  if (tokens && input.dtype() != DType::i32) throw ConfigError("--input", o.input + " must hold integer token ids");

  Tensor logits = model.forward(as_one_replica(input));
  save_npy(o.out, replica_slice(logits, 0));
  if (o.targets.empty()) return 0;

  Tensor targets = load_npy(o.targets);
  Tensor loss;
  if (run.model.output == OutputKind::logits) {
    if (targets.dtype() != DType::i32 || targets.shape() != input.shape())
      throw ConfigError("--targets", fmt::format("expected integer ids of shape {}, got {}", to_string(input.shape()),
                                                 to_string(targets.shape())));
    loss = cross_entropy(logits, as_one_replica(targets));
  } else {
    loss = mse(logits, as_one_replica(targets.to(dtype)));
  }
  loss.backward();
  std::vector<NamedTensor> grads;
  for (const NamedParameter& p : model.parameters()) grads.push_back({p.name, replica_slice(p.value.grad(), 0)});
  save_safetensors(o.grads, grads, {{"loss", fmt::format("{:.17g}", loss.item())}});
  fmt::print(stderr, "mechlab: mean loss {:.6f}; gradients of {} parameters in {}\n", loss.item(), grads.size(), o.grads);
  return 0;
}
}  // namespace

Command add_forward(CLI::App& app) {
  auto o = std::make_shared<ForwardOptions>();
  CLI::App* sub = app.add_subcommand("forward", "Run a checkpoint on given inputs (and take gradients)");
  sub->add_option("checkpoint", o->checkpoint, "a checkpoints/step_*.safetensors file")->required()->check(CLI::ExistingFile);
  sub->add_option("--input", o->input, "tokens (B, T) as .npy (int32 or int64), or vectors (B, T, d)")->required()->check(CLI::ExistingFile);
  sub->add_option("--out", o->out, "where to write the outputs (B, T, V) as .npy")->required();
  auto* targets = sub->add_option("--targets", o->targets, "targets (B, T) as .npy: also compute the mean loss's gradients")->check(CLI::ExistingFile);
  sub->add_option("--grads", o->grads, "where to write the gradients (.safetensors)")->needs(targets);
  targets->needs(sub->get_option("--grads"));
  sub->add_flag("--f64", o->f64, "compute in double precision (for gradient checks)");
  return [o] { return forward(*o); };
}

}  // namespace mechlab::cli
