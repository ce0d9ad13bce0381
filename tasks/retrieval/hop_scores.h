// Which assignment each head reads while the model follows a chain: the hop scores of Musat's stacked heads.
// For a query k hops from its value, hop j's assignment is the one whose left side is the j-th pointer on the
// way (hop 1: the query's variable; hop j + 1: the right side of hop j's assignment). A head's hop-j score is
// the attention mass the query position puts on that assignment (on its three positions in the triple layout),
// over the examples at least j hops deep. Its pointer score is the mass each assignment puts on the
// assignment its own right side names, where that one comes earlier: the in-context step a lower stacked head
// takes before the query reads the result.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "task/task.h"
#include "tasks/retrieval/chains.h"
#include "tensor/tensor.h"

namespace mechlab {

// The variables of one batch's assignments as one-hot rows (R, B, n, variables): lhs, rhs (zero where the right
// side is a value) and the query's variable (R, B, 1, variables).
struct ChainPointers {
  Tensor lhs, rhs, query;
};

// Device phase, every name "hops.L<l>" (R, B, H, D): mass on each hop's assignment at the query position;
// "pointer.L<l>" (R, B, H): summed mass of the assignments on the ones they point to. patterns[l] is layer l's
// (R, B, H, T, T), or undefined for a layer without attention; positions_per_assignment is 1 or 3, the
// pointer row of an assignment its last position.
std::map<std::string, Tensor> hop_tensors(const std::vector<Tensor>& patterns, const ChainPointers& pointers,
                                          int64_t positions_per_assignment, int steps);

// Host phase: adds "hop<j>.L<l>H<h>" (j = 1 .. D) and "pointer.L<l>H<h>" to each replica's metrics from the
// tensors hop_tensors named (others in host_tensors are passed over). examples[r * B + b] is the batch's example b
// of replica r.
void add_hop_scores(const std::map<std::string, Tensor>& host_tensors, const std::vector<ReadExample>& examples,
                    int variables, int steps, std::vector<Metrics>& metrics);

}  // namespace mechlab
