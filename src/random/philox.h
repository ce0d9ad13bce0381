// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). Every draw is a pure function of
// (seed, replica, stream, step, index), so results do not depend on thread count, on how replicas are
// packed together, or on whether a run was resumed.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>

#include "random/replica_key.h"

namespace mechlab {

// Independent streams of randomness within one replica.
// dataset: the fixed examples a task with a finite training set draws its batches from.
enum class RandomStream : uint32_t { init = 1, data = 2, eval_data = 3, probe = 4, dropout = 5, analysis = 6, dataset = 7 };

inline std::array<uint32_t, 4> philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
  constexpr uint32_t kMul0 = 0xD2511F53, kMul1 = 0xCD9E8D57, kWeyl0 = 0x9E3779B9, kWeyl1 = 0xBB67AE85;
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = static_cast<uint64_t>(kMul0) * counter[0];
    const uint64_t p1 = static_cast<uint64_t>(kMul1) * counter[2];
    counter = {static_cast<uint32_t>(p1 >> 32) ^ counter[1] ^ key[0], static_cast<uint32_t>(p1),
               static_cast<uint32_t>(p0 >> 32) ^ counter[3] ^ key[1], static_cast<uint32_t>(p0)};
    key = {key[0] + kWeyl0, key[1] + kWeyl1};
  }
  return counter;
}

// One (seed, replica, stream, step) context; draws are indexed by a 64-bit position within it.
class Philox {
 public:
  Philox(uint64_t seed, uint32_t replica, RandomStream stream, uint32_t step)
      : key_{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
        step_(step),
        tag_((replica << 8) ^ static_cast<uint32_t>(stream)) {}
  Philox(const ReplicaKey& replica, RandomStream stream, uint32_t step)
      : Philox(replica.seed, replica.index, stream, step) {}

  // Four independent 32-bit words for position `index`.
  std::array<uint32_t, 4> words(uint64_t index) const {
    return philox4x32({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), step_, tag_}, key_);
  }
  // Uniform in [0, 1) with 24 random bits (exactly representable in float).
  double uniform(uint64_t index) const { return (words(index)[0] >> 8) * 0x1.0p-24; }
  // Uniform in [0, 1) with 53 random bits (every multiple of 2^-53) from the first two words: inverse-CDF
  // draws need it because 24 bits would round table probabilities (some near 2^-20) to steps of 2^-24.
  double uniform53(uint64_t index) const {
    const auto w = words(index);
    return (((static_cast<uint64_t>(w[0]) << 32) | w[1]) >> 11) * 0x1.0p-53;
  }
  // Standard normal by Box-Muller on the first two words.
  double normal(uint64_t index) const {
    const auto w = words(index);
    const double u1 = ((w[0] >> 8) + 1) * 0x1.0p-24;  // (0, 1]: log is finite
    const double u2 = (w[1] >> 8) * 0x1.0p-24;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }
  // Uniform integer in [0, n) from a 64-bit draw (bias below 2^-32 for n < 2^32).
  uint32_t below(uint64_t index, uint32_t n) const {
    const auto w = words(index);
    const uint64_t bits = (static_cast<uint64_t>(w[2]) << 32) | w[3];
    return static_cast<uint32_t>((static_cast<unsigned __int128>(bits) * n) >> 64);
  }

 private:
  std::array<uint32_t, 2> key_;
  uint32_t step_;
  uint32_t tag_;
};

}  // namespace mechlab
