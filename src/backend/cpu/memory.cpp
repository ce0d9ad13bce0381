// Allocation (a size-keyed cache of freed blocks), host copies, fill and dtype conversion.
#include <cstdlib>
#include <cstring>
#include <new>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/strided_loop.h"

namespace mechlab {

CpuBackend::~CpuBackend() {
  for (auto& [bytes, data] : free_blocks_) std::free(data);
}

void* CpuBackend::allocate(size_t bytes) {
  {
    std::lock_guard lock(cache_mutex_);
    auto found = free_blocks_.find(bytes);
    if (found != free_blocks_.end()) {
      void* data = found->second;
      free_blocks_.erase(found);
      return data;
    }
  }
  void* data = std::aligned_alloc(64, ((bytes + 63) / 64) * 64 + 64);
  if (!data) throw std::bad_alloc();
  return data;
}

void CpuBackend::release(void* data, size_t bytes) {
  std::lock_guard lock(cache_mutex_);
  free_blocks_.emplace(bytes, data);
}

void CpuBackend::copy_from_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }
void CpuBackend::copy_to_host(void* dst, const void* src, size_t bytes) { std::memcpy(dst, src, bytes); }

void CpuBackend::fill(Tensor& out, double value) {
  auto fill_as = [&]<typename T>(T* p) {
    cpu::parallel_chunks(out.numel(), 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) p[i] = static_cast<T>(value);
    });
  };
  switch (out.dtype()) {
    case DType::f32: fill_as(out.data<float>()); break;
    case DType::f64: fill_as(out.data<double>()); break;
    case DType::i32: fill_as(out.data<int32_t>()); break;
  }
}

void CpuBackend::convert(const Tensor& x, Tensor& out) {
  auto convert_from = [&]<typename S>(const S* src) {
    auto convert_to = [&]<typename T>(T* dst) {
      for (int64_t i = 0; i < x.numel(); ++i) dst[i] = static_cast<T>(src[i]);
    };
    switch (out.dtype()) {
      case DType::f32: convert_to(out.data<float>()); break;
      case DType::f64: convert_to(out.data<double>()); break;
      case DType::i32: convert_to(out.data<int32_t>()); break;
    }
  };
  switch (x.dtype()) {
    case DType::f32: convert_from(x.data<float>()); break;
    case DType::f64: convert_from(x.data<double>()); break;
    case DType::i32: convert_from(x.data<int32_t>()); break;
  }
}

void CpuBackend::strided_copy(const Tensor& x, const StridedView& view_x, Tensor& out, const StridedView& view_out,
                              bool accumulate) {
  auto copy_as = [&]<typename T>(const T* src, T* dst) {
    cpu::StridedLoop<2> loop({&view_x, &view_out});
    loop.run([&](const std::array<int64_t, 2>& at, int64_t n, const std::array<int64_t, 2>& step) {
      const T* s = src + at[0];
      T* d = dst + at[1];
      if (accumulate) {
        for (int64_t i = 0; i < n; ++i) d[i * step[1]] += s[i * step[0]];
      } else if (step[0] == 1 && step[1] == 1) {
        std::memcpy(d, s, n * sizeof(T));
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * step[1]] = s[i * step[0]];
      }
    });
  };
  switch (x.dtype()) {
    case DType::f32: copy_as(x.data<float>(), out.data<float>()); break;
    case DType::f64: copy_as(x.data<double>(), out.data<double>()); break;
    case DType::i32: copy_as(x.data<int32_t>(), out.data<int32_t>()); break;
  }
}

}  // namespace mechlab
