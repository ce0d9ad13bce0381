// Multi-step variable retrieval (Musat 2025, studies.md section 3), our formulation: n_chains chains
// value -> v_1 -> ... -> v_D over distinct variables, each step one assignment "v_j = v_(j-1)" (v_1 = value),
// all of them shuffled (or the chains interleaved, each in step order), then a query "? = v_k" whose answer is its
// chain's value, k hops away.
// Pure and stateless: example i is a function of (Philox key, i), so batches are reproducible in any order.
#pragma once
#include <cstdint>
#include <vector>

#include "random/philox.h"

namespace mechlab {

struct Assignment {
  int lhs = 0;  // a variable, 0 .. variables - 1
  int rhs = 0;  // a variable, or variables + value for a chain's first step
  int chain = 0;
  int step = 0;  // 1 .. D: how many hops its lhs is from the chain's value
};

struct RetrievalExample {
  std::vector<Assignment> assignments;  // shuffled or interleaved, n_chains * D of them
  std::vector<int> values;              // each chain's value, 0 .. values - 1
  int query_chain = 0;
  int query_depth = 1;     // k: the query asks for v_k
  int query_variable = 0;  // v_k of the query chain
  int answer() const { return values[query_chain]; }
};

struct ChainShape {
  int steps = 4;       // D
  int chains = 4;
  int variables = 64;  // at least chains * steps
  int values = 16;
  // Each chain's assignments in step order (v_1 = value first), the chains randomly interleaved, as in Lutz's
  // renaming chains: every assignment's answer is then in its prefix, which a dense target needs.
  bool interleaved = false;
};

// Example `index` of the context `rng`: variables drawn without replacement, values with replacement, the
// query chain uniform, its depth uniform over lowest .. highest (1 <= lowest <= highest <= D).
RetrievalExample sample_example(const Philox& rng, uint64_t index, const ChainShape& shape, int lowest, int highest);
// The same with the query's depth `depth` (1 .. D) or, when depth is 0, uniform over 1 .. D.
RetrievalExample sample_example(const Philox& rng, uint64_t index, const ChainShape& shape, int depth);

// A written example read back from a batch's inputs: its assignments in order (chain and step left 0) and how many
// hops its query is from its answer.
struct ReadExample {
  std::vector<Assignment> assignments;
  int depth = 0;
};

// How many hops the query of a written example is from its answer, following the assignments from the query's
// variable (what an evaluation reads back from its inputs); 0 when the chain breaks.
int hops_to_value(const std::vector<Assignment>& assignments, int query_variable, int variables);

}  // namespace mechlab
