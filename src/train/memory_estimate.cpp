#include "train/memory_estimate.h"

#include <fmt/format.h>

#include <algorithm>

#include "backend/backend.h"
#include "config/config_error.h"
#include "nn/memory_model.h"
#include "nn/parameter_specs.h"

namespace mechlab {

std::string bytes_text(double bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 6) {
    bytes /= 1024.0;
    ++unit;
  }
  return unit == 0 ? fmt::format("{:.0f} bytes", bytes) : fmt::format("{:.1f} {}", bytes, units[unit]);
}

namespace {
// A width far beyond the model's usual proportions, which inflates every part that holds activations.
std::string outsized_width(const TransformerConfig& c) {
  if (c.d_head > 0 && static_cast<int64_t>(c.n_heads) * c.head_width() > 8 * c.d_model) return "model.d_head";
  if (c.d_mlp > 16 * c.d_model) return "model.d_mlp";
  if (c.d_model > 4096) return "model.d_model";
  return "";
}

// The parameters' key: seeds when replicas multiply a small model, else the widest dimension.
std::string parameter_key(const RunConfig& run) {
  if (run.replicas() > 16) return "seeds";
  const TransformerConfig& c = run.model;
  if (const std::string width = outsized_width(c); !width.empty()) return width;
  if (c.input == InputKind::tokens && c.d_vocab > 16 * c.d_model) return "model.d_vocab";
  if (c.n_layers > 8) return "model.n_layers";
  return "model.d_model";
}

// The key of a part that holds sequences: an outsized width, the replicas, the sequence length when that
// dominates, or else its batch size.
std::string batch_key(const RunConfig& run, const Task& task, const std::string& batch, int64_t batch_size) {
  if (const std::string width = outsized_width(run.model); !width.empty()) return width;
  if (run.replicas() > batch_size && run.replicas() > 16) return "seeds";
  const int64_t length = task.sequence_length();
  return length > 4 * batch_size && length > 1024 ? task.sequence_length_key() : batch;
}
}  // namespace

std::vector<MemoryPart> estimate_memory(const RunConfig& run, const Task& task) {
  const TransformerConfig& model = run.model;
  const double R = static_cast<double>(run.replicas());
  const int64_t T = task.sequence_length();
  // Value, gradient, two optimizer moments, the float64 copy the initialisation builds and a checkpoint's
  // host copy of one replica.
  const double parameters = static_cast<double>(parameter_count(model)) * 4.0 * (R * 4.0 + R * 2.0 + 3.0);
  std::vector<MemoryPart> parts;
  parts.push_back({fmt::format("parameters, gradients and optimizer state ({} replica{} x {} parameters)", run.replicas(),
                               run.replicas() == 1 ? "" : "s", parameter_count(model)),
                   parameter_key(run), parameters});
  auto sequences = [&](int64_t batch) {
    return fmt::format("{} replica{} x {} sequences of {} positions", run.replicas(), run.replicas() == 1 ? "" : "s",
                       batch, T);
  };
  const int64_t B = run.train.batch_size, B_eval = run.train.eval_batch_size, B_probe = run.outputs.probe_batch_size;
  parts.push_back({"activations of a training step (" + sequences(B) + ")", batch_key(run, task, "train.batch_size", B),
                   activation_bytes(model, R * static_cast<double>(B), static_cast<double>(T), true)});
  // Evaluations capture every layer's attention pattern and run their interventions on top.
  parts.push_back({"the evaluation batch (" + sequences(B_eval) + ")", batch_key(run, task, "train.eval_batch_size", B_eval),
                   task.evaluation_bytes(model, R * static_cast<double>(B_eval))});
  if (run.outputs.dumps != DumpSchedule::none) {
    // A forward pass that keeps each layer's pattern, values and residual (analysis/probe_dump.h) and the logits.
    const double t = static_cast<double>(T), H = model.n_heads, E = model.head_width(), D = model.d_model;
    const double kept = model.n_layers * (H * t * t + H * t * E + t * D) + t * D +
                        t * (model.output == OutputKind::logits ? model.d_vocab : model.d_output);
    const double probe = R * static_cast<double>(B_probe);
    parts.push_back({"the probe dumps (" + sequences(B_probe) + ")", batch_key(run, task, "outputs.probe_batch_size", B_probe),
                     activation_bytes(model, probe, t, false) + probe * kept * 4.0});
  }
  for (MemoryPart& part : task.analysis_memory(model, run.replicas())) parts.push_back(std::move(part));
  // An outsized width inflates every part, and it is what to change.
  if (const std::string width = outsized_width(model); !width.empty())
    for (MemoryPart& part : parts) part.key = width;
  // CUDA graphs record the step and the evaluation into pools of their own, beside the eager warm-up's.
  if (run.train.device == Device::cuda && run.train.cuda_graph)
    for (size_t i = 1; i < parts.size(); ++i) parts[i].bytes *= 2.0;
  return parts;
}

void check_memory(const RunConfig& run, const Task& task) {
  const std::vector<MemoryPart> parts = estimate_memory(run, task);
  double total = 0.0;
  for (const MemoryPart& part : parts) total += part.bytes;
  // Without the device here (validating a GPU config on a laptop) there is nothing to compare with.
  if (run.train.device == Device::cuda && !cuda_backend_or_null()) return;
  const double available = backend_for(run.train.device).available_bytes();
  if (total <= available) return;
  const MemoryPart& largest = *std::max_element(
      parts.begin(), parts.end(), [](const MemoryPart& a, const MemoryPart& b) { return a.bytes < b.bytes; });
  throw ConfigError(largest.key, fmt::format("the run needs about {} of {} memory, {} of it for {}, but {} is available; "
                                             "lower {}",
                                             bytes_text(total), run.train.device == Device::cuda ? "GPU" : "host",
                                             bytes_text(largest.bytes), largest.what, bytes_text(available),
                                             largest.key));
}

}  // namespace mechlab
