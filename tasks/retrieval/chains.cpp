#include "tasks/retrieval/chains.h"

#include <numeric>
#include <stdexcept>

namespace mechlab {

RetrievalExample sample_example(const Philox& rng, uint64_t index, const ChainShape& s, int lowest, int highest) {
  const int n = s.chains * s.steps;
  if (s.steps < 1 || s.chains < 1 || s.variables < n || s.values < 1 || lowest < 1 || lowest > highest ||
      highest > s.steps)
    throw std::invalid_argument(
        "sample_example: needs variables >= chains * steps and 1 <= lowest <= highest <= steps");
  // Each example owns a block of draws: the variables, the values, the shuffle, the query.
  const uint64_t base = index * static_cast<uint64_t>(2 * s.variables + 2 * n + 8);
  uint64_t draw = base;
  std::vector<int> pool(s.variables);
  std::iota(pool.begin(), pool.end(), 0);
  for (int i = 0; i < n; ++i) {  // partial Fisher-Yates: pool[0 .. n) are the chains' variables
    const int j = i + static_cast<int>(rng.below(draw++, static_cast<uint32_t>(s.variables - i)));
    std::swap(pool[i], pool[j]);
  }
  RetrievalExample e;
  for (int c = 0; c < s.chains; ++c) e.values.push_back(static_cast<int>(rng.below(draw++, static_cast<uint32_t>(s.values))));
  for (int c = 0; c < s.chains; ++c)
    for (int k = 1; k <= s.steps; ++k) {
      const int variable = pool[c * s.steps + k - 1];
      const int rhs = k == 1 ? s.variables + e.values[c] : pool[c * s.steps + k - 2];
      e.assignments.push_back({variable, rhs, c, k});
    }
  for (int i = n - 1; i > 0; --i)
    std::swap(e.assignments[i], e.assignments[rng.below(draw++, static_cast<uint32_t>(i + 1))]);
  if (s.interleaved) {  // keep the shuffle's order of chains, and give each chain its steps in order
    std::vector<int> next_step(s.chains, 1);
    for (Assignment& a : e.assignments) {
      const int c = a.chain, k = next_step[c]++;
      a = {pool[c * s.steps + k - 1], k == 1 ? s.variables + e.values[c] : pool[c * s.steps + k - 2], c, k};
    }
  }
  e.query_chain = static_cast<int>(rng.below(draw++, static_cast<uint32_t>(s.chains)));
  // The last draw of an example's block, so a range of one depth, which draws nothing, leaves the rest alike.
  e.query_depth = lowest == highest
                      ? lowest
                      : lowest + static_cast<int>(rng.below(draw++, static_cast<uint32_t>(highest - lowest + 1)));
  e.query_variable = pool[e.query_chain * s.steps + e.query_depth - 1];
  return e;
}

RetrievalExample sample_example(const Philox& rng, uint64_t index, const ChainShape& shape, int depth) {
  if (depth < 0 || depth > shape.steps) throw std::invalid_argument("sample_example: needs 0 <= depth <= steps");
  return depth == 0 ? sample_example(rng, index, shape, 1, shape.steps)
                    : sample_example(rng, index, shape, depth, depth);
}

int hops_to_value(const std::vector<Assignment>& assignments, int query_variable, int variables) {
  int at = query_variable;
  for (int hops = 1; hops <= static_cast<int>(assignments.size()); ++hops) {
    const Assignment* found = nullptr;
    for (const Assignment& a : assignments)
      if (a.lhs == at) found = &a;
    if (!found) return 0;
    if (found->rhs >= variables) return hops;
    at = found->rhs;
  }
  return 0;
}

}  // namespace mechlab
