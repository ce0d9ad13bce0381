// mechlab forward CHECKPOINT --input tokens.npy --out logits.npy [--targets t.npy --grads g.safetensors]:
// runs a checkpoint on given inputs; with targets, also the gradient of the mean loss with respect to
// every parameter, under the checkpoint's parameter names and shapes. Every input is checked before
// anything is written.
#include <fmt/format.h>
#include <unistd.h>

#include "cli/commands.h"
#include "config/config_error.h"
#include "config/run_config.h"
#include "config/run_schema.h"
#include "io/checkpoint.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "ops/ops.h"
#include "task/registry.h"
#include "tensor/replica_slice.h"
#include "train/training_loss.h"

namespace mechlab::cli {

namespace fs = std::filesystem;

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

// Reading a file the user named: its problems are theirs to fix (exit 2), under the option's name.
template <typename Read>
auto read_argument(const std::string& option, Read read) {
  try {
    return read();
  } catch (const ConfigError&) {
    throw;
  } catch (const std::runtime_error& error) {
    throw ConfigError(option, error.what());
  }
}

// An output file must go into an existing, writable directory, and not onto an input.
void check_output(const std::string& option, const std::string& path, const std::vector<std::string>& inputs) {
  std::error_code error;
  const fs::path parent = fs::absolute(path, error).parent_path();
  if (!fs::is_directory(parent, error))
    throw ConfigError(option, "'" + parent.string() + "' is not a directory; create it or write elsewhere");
  if (access(parent.c_str(), W_OK) != 0) throw ConfigError(option, "cannot write in '" + parent.string() + "'");
  if (fs::is_directory(path, error)) throw ConfigError(option, "'" + path + "' is a directory; give a file name");
  for (const std::string& input : inputs)
    if (!input.empty() && fs::equivalent(path, input, error))
      throw ConfigError(option, "'" + path + "' is also an input; write elsewhere");
}

std::string shape_text(const Tensor& x) { return to_string(x.shape()); }

// Targets as the loss takes them: token ids as they are, readout values in the model's precision.
Tensor tokens_target(const Tensor& targets, const TransformerConfig& c, DType dtype) {
  return c.output == OutputKind::logits ? targets : targets.to(dtype);
}

// Token ids (B, T) within the vocabulary, token pairs (B, T, 2) within [0, d_input), or vectors (B, T, d_input);
// B, T >= 1; T within n_ctx.
void check_input(const Tensor& input, const TransformerConfig& c, const std::string& file) {
  const bool pairs = c.input == InputKind::token_pairs, ids = c.input == InputKind::tokens || pairs;
  const int64_t last = pairs ? 2 : c.d_input;
  const std::string expected = c.input == InputKind::tokens ? "token ids (B, T)"
                               : pairs                      ? "token pairs (B, T, 2)"
                                                            : fmt::format("vectors (B, T, {})", c.d_input);
  if (input.ndim() != (c.input == InputKind::tokens ? 2 : 3) || (c.input != InputKind::tokens && input.dim(2) != last))
    throw ConfigError("--input", fmt::format("expected {} but {} has shape {}", expected, file, shape_text(input)));
  if (input.dim(0) < 1 || input.dim(1) < 1)
    throw ConfigError("--input", file + " has shape " + shape_text(input) + "; give at least one sequence of one position");
  if (c.positions == Positions::learned && input.dim(1) > c.n_ctx)
    throw ConfigError("--input", fmt::format("{} has sequences of {} positions but the model's learned positions end at "
                                             "n_ctx = {}; shorten them",
                                             file, input.dim(1), c.n_ctx));
  if (!ids) return;
  if (input.dtype() != DType::i32) throw ConfigError("--input", file + " must hold integer token ids");
  const int64_t range = pairs ? c.d_input : c.d_vocab;
  for (int32_t id : input.to_vector<int32_t>())
    if (id < 0 || id >= range)
      throw ConfigError("--input", fmt::format("{} holds token id {}, outside the {} [0, {})", file, id,
                                               pairs ? "input ids (model.d_input)" : "vocabulary", range));
}

// Targets of the loss: token ids of the input's shape within the vocabulary, or readout values (B, T, K).
void check_targets(const Tensor& targets, const Tensor& input, const TransformerConfig& c, const std::string& file) {
  if (c.output == OutputKind::logits) {
    const Shape positions{input.dim(0), input.dim(1)};
    if (targets.dtype() != DType::i32 || targets.shape() != positions)
      throw ConfigError("--targets", fmt::format("expected integer ids of shape {}, got {} {}", to_string(positions),
                                                 dtype_name(targets.dtype()), shape_text(targets)));
    for (int32_t id : targets.to_vector<int32_t>())
      if (id < 0 || id >= c.d_vocab)
        throw ConfigError("--targets", fmt::format("{} holds token id {}, outside the vocabulary [0, {})", file, id, c.d_vocab));
    return;
  }
  const Shape expected{input.dim(0), input.dim(1), c.d_output};
  if (targets.dtype() == DType::i32 || targets.shape() != expected)
    throw ConfigError("--targets", fmt::format("expected floating-point values of shape {}, got {} {}",
                                               to_string(expected), dtype_name(targets.dtype()), shape_text(targets)));
}

int forward(const ForwardOptions& o) {
  check_output("--out", o.out, {o.checkpoint, o.input, o.targets});
  if (!o.grads.empty()) {
    check_output("--grads", o.grads, {o.checkpoint, o.input, o.targets});
    std::error_code error;
    if (fs::absolute(o.grads, error) == fs::absolute(o.out, error))
      throw ConfigError("--grads", "is the same file as --out; give two files");
  }
  const Checkpoint checkpoint = read_argument("checkpoint", [&] { return read_checkpoint(o.checkpoint); });
  // Resolved again: a checkpoint of an older mechlab lacks the keys added since (they take their defaults).
  RunConfig run;
  try {
    run = run_config_from_resolved(run_schema().resolve(checkpoint.info.config));
    run.model.validate();
  } catch (const std::exception& error) {
    throw ConfigError("checkpoint", o.checkpoint + ": its config is not one this mechlab can run: " + error.what());
  }
  std::unique_ptr<Task> task;
  try {
    task = make_task(run.task);
  } catch (const std::exception& error) {
    throw ConfigError("checkpoint", o.checkpoint + ": its task is not one this mechlab can run: " + error.what());
  }
  const DType dtype = o.f64 ? DType::f64 : DType::f32;
  Transformer model(run.model, {{run.seeds[0], 0}}, dtype);
  read_argument("checkpoint", [&] { load_checkpoint(checkpoint, model, nullptr, 0); return 0; });

  Tensor input = read_argument("--input", [&] { return load_npy(o.input); });
  check_input(input, run.model, o.input);
  if (run.model.input == InputKind::vectors) input = input.to(dtype);
  Tensor targets;
  if (!o.targets.empty()) {
    targets = read_argument("--targets", [&] { return load_npy(o.targets); });
    check_targets(targets, input, run.model, o.targets);
  }

  Tensor outputs = model.forward(as_one_replica(input));
  if (o.targets.empty()) {
    save_npy(o.out, replica_slice(outputs, 0));
    return 0;
  }
  // The training loss, with the mask the task's batches carry (icl_linreg: the query only).
  const Tensor batch_inputs = as_one_replica(input);
  Batch batch{batch_inputs, as_one_replica(tokens_target(targets, run.model, dtype)),
              task->loss_mask_for(batch_inputs), {}};
  if (batch.loss_mask.defined()) batch.loss_mask = batch.loss_mask.to(dtype);
  Tensor loss = sum(training_loss(outputs, batch, run.model), {0});
  loss.backward();
  std::vector<NamedTensor> grads;
  for (const NamedParameter& p : model.parameters()) grads.push_back({p.name, replica_slice(p.value.grad(), 0)});
  save_npy(o.out, replica_slice(outputs, 0));
  save_safetensors(o.grads, grads, {{"loss", fmt::format("{:.17g}", loss.item())}});
  fmt::print(stderr, "mechlab: mean loss {:.6f}; gradients of {} parameters in {}\n", loss.item(), grads.size(), o.grads);
  return 0;
}
}  // namespace

Command add_forward(CLI::App& app) {
  auto o = std::make_shared<ForwardOptions>();
  CLI::App* sub = app.add_subcommand("forward", "Run a checkpoint on given inputs (and take gradients)");
  sub->add_option("checkpoint", o->checkpoint, "a checkpoints/step_*.safetensors file")->required()->check(CLI::ExistingFile);
  sub->add_option("--input", o->input, "tokens (B, T) or token pairs (B, T, 2) as .npy (int32 or int64), or vectors (B, T, d)")->required()->check(CLI::ExistingFile);
  sub->add_option("--out", o->out, "where to write the outputs (B, T, V) as .npy")->required();
  auto* targets = sub->add_option("--targets", o->targets, "targets (B, T) as .npy: also compute the mean loss's gradients")->check(CLI::ExistingFile);
  sub->add_option("--grads", o->grads, "where to write the gradients (.safetensors)")->needs(targets);
  targets->needs(sub->get_option("--grads"));
  sub->add_flag("--f64", o->f64, "compute in double precision (for gradient checks)");
  return [o] { return forward(*o); };
}

}  // namespace mechlab::cli
