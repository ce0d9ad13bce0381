#include "tasks/bigram_backcopy/active_dormant.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "autograd/grad_mode.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "nn/attention_patterns.h"
#include "ops/ops.h"
#include "task/parallel_replicas.h"
#include "tensor/replica_slice.h"

namespace mechlab {

namespace {
// Probe prefixes are averaged over so that one unlucky context does not decide a head's label.
constexpr int64_t kPrefixes = 8;
// Long enough for the sink to dominate a softmax over the other keys, short enough to stay cheap.
constexpr int64_t kProbeLength = 32;

// A CSV field: the token's text with newline and tab spelled out, quoted when it holds a comma or quote.
std::string csv_text(const std::string& text) {
  if (text == "\n") return "\\n";
  if (text == "\t") return "\\t";
  if (text == "\"") return "\"\"\"\"";
  if (text == ",") return "\",\"";
  return text;
}
}  // namespace

Tensor active_dormant_probe(const BigramBackcopyProcess& process, bool bos, int64_t prefixes, int64_t length) {
  const int64_t V = process.vocab_size() - 1, body = length - (bos ? 2 : 1);
  const Philox rng(0, 0, RandomStream::probe, 1);
  std::vector<int32_t> tokens(prefixes * V * length);
  for (int64_t p = 0; p < prefixes; ++p) {
    std::vector<int32_t> characters;
    for (uint64_t draw = 0; static_cast<int64_t>(characters.size()) < body; ++draw) {
      std::vector<int32_t> sample(4 * length);
      process.sample(rng, p * 1000 + draw, static_cast<int64_t>(sample.size()), sample.data());
      for (size_t i = 1; i < sample.size() && static_cast<int64_t>(characters.size()) < body; ++i)
        if (!process.is_trigger(sample[i])) characters.push_back(sample[i]);
    }
    for (int64_t v = 0; v < V; ++v) {
      int32_t* row = &tokens[(p * V + v) * length];
      int64_t i = 0;
      if (bos) row[i++] = process.bos();
      for (int32_t c : characters) row[i++] = c;
      row[i] = static_cast<int32_t>(v);
    }
  }
  return Tensor::from_vector<int32_t>({prefixes * V, length}, tokens);
}

Tensor last_position_sink_attention(const Transformer& model, const Tensor& probe, int64_t prefixes) {
  NoGradGuard no_grad;
  const TransformerConfig& c = model.config();
  const int64_t R = model.replicas(), N = probe.dim(0), T = probe.dim(1), V = N / prefixes, H = c.n_heads;
  const Tensor inputs = broadcast_to(reshape(probe.to(model.device()), {1, N, T}), {R, N, T});  // every replica
  const std::vector<Tensor> patterns = forward_with_patterns(model, inputs).patterns;

  std::vector<float> table(R * c.n_layers * H * V, std::numeric_limits<float>::quiet_NaN());
  for (int l = 0; l < c.n_layers; ++l) {
    if (!c.layer(l).attention) continue;
    // (R, N, H, T, T) -> the last query's attention on key 0.
    const Tensor last = slice(slice(patterns[l], 3, T - 1, T), 4, 0, 1);
    const std::vector<float> sink = last.to(Device::cpu).to_vector<float>();  // (R, N, H)
    for (int64_t r = 0; r < R; ++r)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t v = 0; v < V; ++v) {
          double total = 0.0;
          for (int64_t p = 0; p < prefixes; ++p) total += sink[(r * N + p * V + v) * H + h];
          table[((r * c.n_layers + l) * H + h) * V + v] = static_cast<float>(total / static_cast<double>(prefixes));
        }
  }
  return Tensor::from_vector<float>({R, c.n_layers, H, V}, table);
}

int64_t active_dormant_sequences(const BigramBackcopyProcess& process) {
  return kPrefixes * (process.vocab_size() - 1);
}
int64_t active_dormant_length() { return kProbeLength; }

void write_active_dormant(const Transformer& model, const BigramBackcopyProcess& process, bool bos, int64_t seq_len,
                          const std::vector<std::filesystem::path>& dirs) {
  const Tensor probe = active_dormant_probe(process, bos, kPrefixes, std::min(seq_len, kProbeLength));
  const Tensor table = last_position_sink_attention(model, probe, kPrefixes);
  const int64_t L = table.dim(1), H = table.dim(2), V = table.dim(3);
  const Tensor host = table.to(Device::cpu);  // once, then every replica's files on every core
  const float* values = host.data<float>();
  for_each_replica(static_cast<int64_t>(dirs.size()), [&](int64_t r) {
    save_npy(dirs[r] / "active_dormant.npy", replica_slice(host, r));
    std::string csv = "layer,head,token,text,trigger,bos_attention,state\n";
    for (int64_t l = 0; l < L; ++l)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t v = 0; v < V; ++v) {
          const float a = values[((r * L + l) * H + h) * V + v];
          if (std::isnan(a)) continue;
          csv += fmt::format("{},{},{},{},{},{:.6f},{}\n", l, h, v, csv_text(process.token_text(static_cast<int>(v))),
                             process.is_trigger(static_cast<int>(v)) ? 1 : 0, a, a >= kDormantCutoff ? "dormant" : "active");
        }
    write_file_atomically(dirs[r] / "active_dormant.csv", csv);
  });
}

}  // namespace mechlab
