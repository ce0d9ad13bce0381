// Allocation (a size-keyed cache of freed blocks), host copies, fill and dtype conversion.
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>
#include <cstring>
#include <new>

#include "backend/cpu/cpu_backend.h"
#include "backend/cpu/strided_loop.h"
#include "backend/size_class.h"

namespace mechlab {

CpuBackend::~CpuBackend() {
  for (auto& [bytes, data] : free_blocks_) std::free(data);
}

void* CpuBackend::allocate(size_t bytes) {
  {
    std::lock_guard lock(cache_mutex_);
    live_bytes_ += bytes;
    peak_live_bytes_ = std::max(peak_live_bytes_, live_bytes_);
    auto found = free_blocks_.find(size_class(bytes));
    if (found != free_blocks_.end()) {
      void* data = found->second;
      free_blocks_.erase(found);
      return data;
    }
  }
  void* data = std::aligned_alloc(64, size_class(bytes) + 64);
  if (!data) throw std::bad_alloc();
  return data;
}

void CpuBackend::release(void* data, size_t bytes) {
  std::lock_guard lock(cache_mutex_);
  live_bytes_ -= bytes;
  free_blocks_.emplace(size_class(bytes), data);
}

size_t CpuBackend::live_bytes() const {
  std::lock_guard lock(const_cast<std::mutex&>(cache_mutex_));
  return live_bytes_;
}

size_t CpuBackend::peak_live_bytes() const {
  std::lock_guard lock(const_cast<std::mutex&>(cache_mutex_));
  return peak_live_bytes_;
}

void CpuBackend::reset_peak() {
  std::lock_guard lock(cache_mutex_);
  peak_live_bytes_ = live_bytes_;
}

namespace {
// A number from a one-line file such as /sys/fs/cgroup/memory.max; -1 when absent or "max".
double number_in(const char* path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return -1;
  try {
    return std::stod(word);
  } catch (const std::exception&) {
    return -1;
  }
}

// A "Key:   123 kB" line of /proc/meminfo or /proc/self/status, in bytes; -1 when absent.
double kilobytes_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) * 1024.0;
  return -1;
}
}  // namespace

double CpuBackend::available_bytes() const {
  double available = kilobytes_field("/proc/meminfo", "MemAvailable");
  auto lower = [&](double limit) {
    if (limit >= 0 && (available < 0 || limit < available)) available = std::max(0.0, limit);
  };
  // A Slurm job or a container is held to its cgroup's limit, whatever the host has free.
  const double v2_limit = number_in("/sys/fs/cgroup/memory.max");
  if (v2_limit >= 0) lower(v2_limit - std::max(0.0, number_in("/sys/fs/cgroup/memory.current")));
  const double v1_limit = number_in("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  if (v1_limit >= 0 && v1_limit < 1e18) lower(v1_limit - std::max(0.0, number_in("/sys/fs/cgroup/memory/memory.usage_in_bytes")));
  for (const auto& [resource, used] : {std::pair{RLIMIT_AS, "VmSize"}, {RLIMIT_DATA, "VmData"}}) {
    rlimit limit{};
    if (getrlimit(resource, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
      lower(static_cast<double>(limit.rlim_cur) - std::max(0.0, kilobytes_field("/proc/self/status", used)));
  }
  return available < 0 ? 1e300 : available;
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
