// Batched GEMM on Eigen. Work is cut into fixed output tiles (a function of the shape only), each tile
// a single-threaded Eigen product, so every element is computed the same way for any thread count and
// whatever the batch holds around it.
#include <Eigen/Core>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

namespace {
constexpr int64_t kTileRows = 128;
constexpr int64_t kTileCols = 128;

template <typename T> void gemm_tiles(const T* a, const T* b, T* c, const GemmShape& g) {
  using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using ConstMap = Eigen::Map<const Matrix, 0, Eigen::OuterStride<>>;
  using Map = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;
  const int64_t row_tiles = (g.m + kTileRows - 1) / kTileRows;
  const int64_t col_tiles = (g.n + kTileCols - 1) / kTileCols;
  const int64_t tiles_per_item = row_tiles * col_tiles;
  const T alpha = static_cast<T>(g.alpha);
  // Enough tiles per task that small products are not dominated by scheduling.
  const int64_t work_per_tile = std::min(g.m, kTileRows) * std::min(g.n, kTileCols) * std::max<int64_t>(g.k, 1);
  cpu::parallel_chunks(g.batch * tiles_per_item, cpu::grain_for(work_per_tile, 1 << 17), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t item = task / tiles_per_item, tile = task % tiles_per_item;
      const int64_t m0 = (tile / col_tiles) * kTileRows, n0 = (tile % col_tiles) * kTileCols;
      const int64_t rows = std::min(kTileRows, g.m - m0), cols = std::min(kTileCols, g.n - n0);
      const T* a_item = a + item * g.a_batch_stride;
      const T* b_item = b + item * g.b_batch_stride;
      Map c_tile(c + item * g.c_batch_stride + m0 * g.n + n0, rows, cols, Eigen::OuterStride<>(g.n));
      auto multiply = [&](const auto& op_a, const auto& op_b) {
        if (g.beta == 0.0) {
          c_tile.noalias() = alpha * op_a * op_b;
        } else {
          if (g.beta != 1.0) c_tile *= static_cast<T>(g.beta);
          c_tile.noalias() += alpha * op_a * op_b;
        }
      };
      // op(A) rows [m0, m0 + rows) and op(B) columns [n0, n0 + cols), read in place.
      auto a_plain = [&] { return ConstMap(a_item + m0 * g.k, rows, g.k, Eigen::OuterStride<>(g.k)); };
      auto a_trans = [&] { return ConstMap(a_item + m0, g.k, rows, Eigen::OuterStride<>(g.m)).transpose(); };
      auto b_plain = [&] { return ConstMap(b_item + n0, g.k, cols, Eigen::OuterStride<>(g.n)); };
      auto b_trans = [&] { return ConstMap(b_item + n0 * g.k, cols, g.k, Eigen::OuterStride<>(g.k)).transpose(); };
      if (!g.trans_a && !g.trans_b) multiply(a_plain(), b_plain());
      else if (!g.trans_a && g.trans_b) multiply(a_plain(), b_trans());
      else if (g.trans_a && !g.trans_b) multiply(a_trans(), b_plain());
      else multiply(a_trans(), b_trans());
    }
  });
}
}  // namespace

void CpuBackend::gemm(const Tensor& a, const Tensor& b, Tensor& c, const GemmShape& shape) {
  if (shape.k == 0 && shape.beta == 0.0) {
    fill(c, 0.0);
    return;
  }
  dispatch_float(a.dtype(), [&]<typename T>() { gemm_tiles<T>(a.data<T>(), b.data<T>(), c.data<T>(), shape); });
}

}  // namespace mechlab
