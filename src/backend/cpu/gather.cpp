// Embedding rows: gather, and the scatter-add back (sequential over positions within a replica, so
// repeated ids always add up in the same order).
#include <stdexcept>
#include <string>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/parallel.h"

namespace mechlab {

namespace {
void check_id(int32_t id, int64_t V) {
  if (id < 0 || id >= V)
    throw std::out_of_range("embedding: token id " + std::to_string(id) + " outside vocabulary [0, " +
                            std::to_string(V) + ")");
}
}  // namespace

void CpuBackend::gather_rows(const Tensor& table, const Tensor& ids, Tensor& out) {
  const int64_t R = table.dim(0), V = table.dim(1), D = table.dim(2), N = ids.dim(1);
  const int32_t* id = ids.data<int32_t>();
  for (int64_t i = 0; i < R * N; ++i) check_id(id[i], V);
  dispatch_float(table.dtype(), [&]<typename T>() {
    const T* t = table.data<T>();
    T* o = out.data<T>();
    cpu::parallel_chunks(R * N, cpu::grain_for(D), [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const T* row = t + ((i / N) * V + id[i]) * D;
        std::copy(row, row + D, o + i * D);
      }
    });
  });
}

void CpuBackend::scatter_add_rows(const Tensor& dout, const Tensor& ids, Tensor& dtable) {
  const int64_t R = dtable.dim(0), V = dtable.dim(1), D = dtable.dim(2), N = ids.dim(1);
  const int32_t* id = ids.data<int32_t>();
  dispatch_float(dout.dtype(), [&]<typename T>() {
    const T* g = dout.data<T>();
    T* d = dtable.data<T>();
    cpu::parallel_chunks(R, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r)
        for (int64_t n = 0; n < N; ++n) {
          T* row = d + (r * V + id[r * N + n]) * D;
          const T* src = g + (r * N + n) * D;
          for (int64_t c = 0; c < D; ++c) row[c] += src[c];
        }
    });
  });
}

}  // namespace mechlab
