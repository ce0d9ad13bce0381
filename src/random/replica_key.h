// What makes one replica's randomness its own: a seed and an index (the Philox key and replica field).
// A replica keeps its key whatever it is packed with, so it trains the same alone or with others.
#pragma once
#include <cstdint>
#include <vector>

namespace mechlab {

struct ReplicaKey {
  uint64_t seed = 0;
  uint32_t index = 0;
  bool operator==(const ReplicaKey&) const = default;
};

// One replica per seed, each with index 0: a run with seeds [s] reproduces replica s of any packed run.
inline std::vector<ReplicaKey> replicas_for_seeds(const std::vector<uint64_t>& seeds) {
  std::vector<ReplicaKey> keys;
  for (uint64_t seed : seeds) keys.push_back({seed, 0});
  return keys;
}

}  // namespace mechlab
