// Guo et al.'s active/dormant classification: head (l, h) is dormant on token v when, at the last position
// of a probe [<s>, non-trigger characters..., v], it puts at least 0.89 of its attention on position 0
// (the sink), and active otherwise. A trained 1-layer model's head is active on the triggers and dormant on
// most other characters.
#pragma once
#include <filesystem>
#include <vector>

#include "nn/transformer.h"
#include "tasks/bigram_backcopy/process.h"

namespace mechlab {

constexpr double kDormantCutoff = 0.89;

// The probe batch, (prefixes * characters, length) token ids, row p * characters + v: prefix p (BOS unless
// `bos` is false, then `length - 2` non-trigger characters in text order: a process sample with the triggers
// taken out), then character v. The same prefixes for every replica and step.
Tensor active_dormant_probe(const BigramBackcopyProcess& process, bool bos, int64_t prefixes, int64_t length);

// Mean attention on position 0 from the probe's last position, per replica, as host f32 (R, L, H, V) with V
// the characters (BOS excluded); NaN for layers without attention.
Tensor last_position_sink_attention(const Transformer& model, const Tensor& probe, int64_t prefixes);

// The probe's size: sequences (per replica) and length at most.
int64_t active_dormant_sequences(const BigramBackcopyProcess& process);
int64_t active_dormant_length();

// Writes, for each replica r into dirs[r]: active_dormant.npy, the (L, H, V) attention above, and
// active_dormant.csv with one row per (layer, head, token): layer,head,token,text,trigger,bos_attention,state.
void write_active_dormant(const Transformer& model, const BigramBackcopyProcess& process, bool bos, int64_t seq_len,
                          const std::vector<std::filesystem::path>& dirs);

}  // namespace mechlab
