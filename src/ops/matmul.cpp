// Batched matrix product with optional transposes; the backward is two more products.
#include <stdexcept>

#include "autograd/node.h"
#include "ops/broadcast.h"
#include "ops/ops.h"

namespace mechlab {

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, double alpha) {
  check_same_kind(a, b, "matmul");
  auto fail = [&](const char* why) {
    return std::invalid_argument(std::string("matmul: ") + why + ": " + to_string(a.shape()) +
                                 (transpose_a ? "^T" : "") + " @ " + to_string(b.shape()) + (transpose_b ? "^T" : ""));
  };
  if (a.ndim() < 2 || a.ndim() != b.ndim()) throw fail("operands need the same number (>= 2) of dims");
  Shape lead(a.shape().begin(), a.shape().end() - 2);
  if (!std::equal(lead.begin(), lead.end(), b.shape().begin())) throw fail("leading dims differ");
  GemmShape g;
  g.batch = numel(lead);
  g.m = transpose_a ? a.dim(-1) : a.dim(-2);
  g.k = transpose_a ? a.dim(-2) : a.dim(-1);
  g.n = transpose_b ? b.dim(-2) : b.dim(-1);
  if ((transpose_b ? b.dim(-1) : b.dim(-2)) != g.k) throw fail("inner dims differ");
  g.trans_a = transpose_a;
  g.trans_b = transpose_b;
  g.a_batch_stride = g.m * g.k;
  g.b_batch_stride = g.k * g.n;
  g.c_batch_stride = g.m * g.n;
  g.alpha = alpha;
  Shape out_shape = lead;
  out_shape.push_back(g.m);
  out_shape.push_back(g.n);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  backend_for(a.device()).gemm(a, b, out, g);
  return record(out, "matmul", {a, b}, [a, b, transpose_a, transpose_b, alpha](const Tensor& dc) -> std::vector<Tensor> {
    // With C = alpha op(A) op(B): d op(A) = alpha dC op(B)^T and d op(B) = alpha op(A)^T dC, transposed
    // back where op was.
    Tensor da, db;
    if (a.requires_grad())
      da = transpose_a ? matmul(b, dc, transpose_b, true, alpha) : matmul(dc, b, false, !transpose_b, alpha);
    if (b.requires_grad())
      db = transpose_b ? matmul(dc, a, true, transpose_a, alpha) : matmul(a, dc, !transpose_a, false, alpha);
    return {da, db};
  });
}

}  // namespace mechlab
