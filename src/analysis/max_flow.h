// Maximum flow on a small directed graph with real capacities (Edmonds-Karp: shortest augmenting paths by
// breadth-first search), the engine of attention flow. Our own few lines, not a graph library, because the
// graphs are tiny: (L + 1) T nodes.
#pragma once
#include <vector>

namespace mechlab {

class FlowNetwork {
 public:
  explicit FlowNetwork(int nodes) : out_(nodes) {}
  void add_edge(int from, int to, double capacity);
  // The graph is left as it was built, so one network answers many (source, sink) pairs.
  double max_flow(int source, int sink) const;

 private:
  std::vector<std::vector<int>> out_;  // indices of the edges leaving each node; edge e ^ 1 is e's reverse
  std::vector<int> to_;
  std::vector<double> capacity_;
};

}  // namespace mechlab
