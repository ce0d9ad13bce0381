// Embedding lookup; the backward scatter-adds rows in a fixed order (deterministic for repeated ids).
#include <stdexcept>

#include "autograd/node.h"
#include "ops/ops.h"

namespace mechlab {

Tensor embedding(const Tensor& table, const Tensor& ids) {
  if (table.ndim() != 3) throw std::invalid_argument("embedding: table must be (R, V, D), got " + to_string(table.shape()));
  if (ids.dtype() != DType::i32 || ids.ndim() < 1 || ids.dim(0) != table.dim(0))
    throw std::invalid_argument("embedding: ids must be i32 (R, ...) with R = " + std::to_string(table.dim(0)) +
                                ", got " + to_string(ids.shape()));
  if (ids.device() != table.device()) throw std::invalid_argument("embedding: ids and table are on different devices");
  const int64_t R = table.dim(0), D = table.dim(2), N = ids.numel() / R;
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, table.dtype(), table.device());
  Tensor flat_out = out.view({R, N, D});
  backend_for(table.device()).gather_rows(table, ids.view({R, N}), flat_out);
  return record(out, "embedding", {table}, [table_shape = table.shape(), ids](const Tensor& dout) -> std::vector<Tensor> {
    const int64_t R = table_shape[0], D = table_shape[2], N = ids.numel() / R;
    Tensor dtable = Tensor::zeros(table_shape, dout.dtype(), dout.device());
    backend_for(dout.device()).scatter_add_rows(dout.view({R, N, D}), ids.view({R, N}), dtable);
    return {dtable};
  });
}

Tensor identity_tables(int64_t R, int64_t n, DType dtype, Device device) {
  std::vector<double> identity(R * n * n, 0.0);
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i < n; ++i) identity[(r * n + i) * n + i] = 1.0;
  return Tensor::from_vector<double>({R, n, n}, identity).to(dtype).to(device);
}

}  // namespace mechlab
