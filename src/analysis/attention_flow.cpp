#include "analysis/attention_flow.h"

#include <Eigen/Core>
#include <stdexcept>
#include <string>

#include "analysis/max_flow.h"

namespace mechlab {

namespace {
using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A'_l = 0.5 mean_h A_l + 0.5 I, rows renormalised, for every layer: (T, T) each.
std::vector<Matrix> mixed_patterns(const std::vector<Tensor>& patterns) {
  if (patterns.empty()) throw std::invalid_argument("attention rollout/flow: no layers' patterns given");
  const int64_t T = patterns[0].ndim() == 3 ? patterns[0].dim(2) : 0;
  std::vector<Matrix> mixed;
  for (size_t l = 0; l < patterns.size(); ++l) {
    const Tensor& p = patterns[l];
    if (p.ndim() != 3 || p.dim(1) != T || p.dim(2) != T)
      throw std::invalid_argument("attention rollout/flow: layer " + std::to_string(l) + "'s pattern is " +
                                  to_string(p.shape()) + ", expected (H, " + std::to_string(T) + ", " +
                                  std::to_string(T) + ")");
    const int64_t H = p.dim(0);
    const std::vector<double> values = p.to_vector<double>();  // (H, T, T)
    Matrix a = Matrix::Zero(T, T);
    for (int64_t h = 0; h < H; ++h) a += Eigen::Map<const Matrix>(values.data() + h * T * T, T, T);
    a = 0.5 * a / static_cast<double>(H) + 0.5 * Matrix::Identity(T, T);
    // Rows of A already sum to 1 except where a query sees no key; there only the identity remains.
    mixed.push_back((a.array().colwise() / a.rowwise().sum().array()).matrix());
  }
  return mixed;
}
}  // namespace

Tensor attention_rollout(const std::vector<Tensor>& patterns) {
  const std::vector<Matrix> mixed = mixed_patterns(patterns);
  const int64_t L = static_cast<int64_t>(mixed.size()), T = mixed[0].rows();
  std::vector<double> rollout(L * T * T);  // (L, T, T)
  Matrix so_far = Matrix::Identity(T, T);
  for (int64_t l = 0; l < L; ++l) {
    so_far = (mixed[l] * so_far).eval();
    Eigen::Map<Matrix>(rollout.data() + l * T * T, T, T) = so_far;
  }
  return Tensor::from_vector<double>({L, T, T}, rollout);
}

Tensor attention_flow(const std::vector<Tensor>& patterns) {
  const std::vector<Matrix> mixed = mixed_patterns(patterns);
  const int L = static_cast<int>(mixed.size()), T = static_cast<int>(mixed[0].rows());
  // Node l * T + p is position p after layer l (l = 0: the input). T (T + 1) / 2 max-flows on (L + 1) T
  // nodes: meant for the short sequences of mechanism studies.
  FlowNetwork network((L + 1) * T);
  for (int l = 1; l <= L; ++l)
    for (int i = 0; i < T; ++i)
      for (int j = 0; j < T; ++j)
        if (mixed[l - 1](i, j) > 0.0) network.add_edge((l - 1) * T + j, l * T + i, mixed[l - 1](i, j));
  std::vector<double> flow(static_cast<size_t>(T) * T, 0.0);  // (T, T)
  for (int i = 0; i < T; ++i)
    for (int j = 0; j <= i; ++j) flow[i * T + j] = network.max_flow(j, L * T + i);
  return Tensor::from_vector<double>({T, T}, flow);
}

}  // namespace mechlab
