#include "tasks/retrieval/hop_scores.h"

#include <fmt/format.h>

#include "ops/ops.h"

namespace mechlab {

namespace {
// (R, B, H, rows, n * per) attention over the assignments' positions -> (R, B, H, rows, n): mass per assignment.
Tensor mass_per_assignment(const Tensor& rows_of_pattern, int64_t n, int64_t per) {
  const Tensor keys = slice(rows_of_pattern, 4, 0, n * per);
  if (per == 1) return keys;
  const Shape s = keys.shape();
  return sum(reshape(keys, {s[0], s[1], s[2], s[3], n, per}), {5});
}
}  // namespace

std::map<std::string, Tensor> hop_tensors(const std::vector<Tensor>& patterns, const ChainPointers& p, int64_t per,
                                          int steps) {
  const int64_t R = p.lhs.dim(0), B = p.lhs.dim(1), n = p.lhs.dim(2);
  const Tensor points_to = matmul(p.rhs, p.lhs, false, true);  // (R, B, n, n): 1 where i's rhs is j's lhs
  std::vector<Tensor> hops{matmul(p.query, p.lhs, false, true)};  // (R, B, 1, n) each
  for (int j = 1; j < steps; ++j) hops.push_back(matmul(hops.back(), points_to));
  const Tensor hop_targets = concat(hops, 2);  // (R, B, D, n)
  std::map<std::string, Tensor> out;
  for (size_t l = 0; l < patterns.size(); ++l) {
    const Tensor& pattern = patterns[l];
    if (!pattern.defined()) continue;
    const int64_t H = pattern.dim(2), T = pattern.dim(3);
    const Tensor at_query = reshape(mass_per_assignment(slice(pattern, 3, T - 1, T), n, per), {R, B, H, n});
    out[fmt::format("hops.L{}", l)] = matmul(at_query, hop_targets, false, true);  // (R, B, H, D)
    // Each assignment's pointer row: its last position.
    Tensor rows = slice(pattern, 3, 0, n * per);
    if (per > 1) rows = reshape(slice(reshape(rows, {R, B, H, n, per, T}), 4, per - 1, per), {R, B, H, n, T});
    const Tensor followed = mul(mass_per_assignment(rows, n, per), reshape(points_to, {R, B, 1, n, n}));
    out[fmt::format("pointer.L{}", l)] = sum(followed, {3, 4});  // (R, B, H)
  }
  return out;
}

void add_hop_scores(const std::map<std::string, Tensor>& host, const std::vector<ReadExample>& examples, int variables,
                    int steps, std::vector<Metrics>& metrics) {
  const int64_t R = static_cast<int64_t>(metrics.size()), B = static_cast<int64_t>(examples.size()) / R;
  // Per example: how many assignments point to an earlier one (the pointer score's denominator).
  std::vector<double> earlier_targets(examples.size(), 0.0);
  for (size_t e = 0; e < examples.size(); ++e) {
    const std::vector<Assignment>& a = examples[e].assignments;
    for (size_t i = 0; i < a.size(); ++i)
      for (size_t j = 0; j < i; ++j)
        if (a[i].rhs < variables && a[j].lhs == a[i].rhs) earlier_targets[e] += 1.0;
  }
  for (const auto& [name, tensor] : host) {
    const bool hops = name.rfind("hops.", 0) == 0;
    if (!hops && name.rfind("pointer.", 0) != 0) continue;  // not one of hop_tensors'
    const std::vector<double> v = tensor.to(DType::f64).to_vector<double>();
    const std::string layer = name.substr(name.find('.') + 1);  // "L<l>"
    const int64_t H = tensor.dim(2);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t h = 0; h < H; ++h) {
        if (hops) {
          for (int j = 1; j <= steps; ++j) {
            double mass = 0.0, count = 0.0;
            for (int64_t b = 0; b < B; ++b)
              if (examples[r * B + b].depth >= j) mass += v[((r * B + b) * H + h) * steps + (j - 1)], count += 1.0;
            if (count > 0) metrics[r][fmt::format("hop{}.{}H{}", j, layer, h)] = mass / count;
          }
        } else {
          double mass = 0.0, count = 0.0;
          for (int64_t b = 0; b < B; ++b) mass += v[(r * B + b) * H + h], count += earlier_targets[r * B + b];
          if (count > 0) metrics[r][fmt::format("pointer.{}H{}", layer, h)] = mass / count;
        }
      }
  }
}

}  // namespace mechlab
