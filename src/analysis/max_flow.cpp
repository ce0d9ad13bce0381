#include "analysis/max_flow.h"

#include <algorithm>
#include <limits>
#include <queue>

namespace mechlab {

void FlowNetwork::add_edge(int from, int to, double capacity) {
  out_[from].push_back(static_cast<int>(to_.size()));
  to_.push_back(to), capacity_.push_back(capacity);
  out_[to].push_back(static_cast<int>(to_.size()));  // the reverse edge: pushing flow back frees capacity
  to_.push_back(from), capacity_.push_back(0.0);
}

double FlowNetwork::max_flow(int source, int sink) const {
  // Residual capacities are stored, not flows, so a saturated edge is exactly 0 and no path of
  // rounding-sized capacity is ever augmented.
  std::vector<double> residual = capacity_;
  double total = 0.0;
  for (;;) {
    std::vector<int> via(out_.size(), -1);  // the edge a node was first reached by
    std::queue<int> frontier;
    frontier.push(source);
    while (!frontier.empty() && via[sink] < 0) {
      const int node = frontier.front();
      frontier.pop();
      for (int e : out_[node])
        if (residual[e] > 0.0 && to_[e] != source && via[to_[e]] < 0) via[to_[e]] = e, frontier.push(to_[e]);
    }
    if (via[sink] < 0) return total;
    double bottleneck = std::numeric_limits<double>::infinity();
    for (int node = sink; node != source; node = to_[via[node] ^ 1]) bottleneck = std::min(bottleneck, residual[via[node]]);
    for (int node = sink; node != source; node = to_[via[node] ^ 1])
      residual[via[node]] -= bottleneck, residual[via[node] ^ 1] += bottleneck;
    total += bottleneck;
  }
}

}  // namespace mechlab
