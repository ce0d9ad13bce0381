// CUDA backend setup, the caching allocator with graph pools, host copies, fill, convert, strided copy.
#include <algorithm>
#include <cstring>

#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/strided.cuh"

namespace mechlab {

using namespace cuda;

CudaBackend* cuda_backend() {
  static CudaBackend* backend = []() -> CudaBackend* {
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
      cudaGetLastError();  // clear the error: having no GPU is not a failure
      return nullptr;
    }
    return new CudaBackend();  // lives for the process: tensors may be released at exit
  }();
  return backend;
}

Backend* cuda_backend_or_null() { return cuda_backend(); }

CudaBackend::CudaBackend() {
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  // A fixed workspace keeps cuBLASLt from allocating inside a graph capture.
  constexpr size_t kWorkspace = 32u << 20;
  check(cudaMalloc(&cublas_workspace_, kWorkspace), "cudaMalloc(cuBLAS workspace)");
  gemm_plans_ = std::make_unique<GemmPlans>(stream_, cublas_workspace_, kWorkspace);
  check(cudaMalloc(&arrivals_, kArrivalCounters * sizeof(unsigned)), "cudaMalloc(arrival counters)");
  check(cudaMemset(arrivals_, 0, kArrivalCounters * sizeof(unsigned)), "cudaMemset(arrival counters)");
}

CudaBackend::~CudaBackend() = default;

void CudaBackend::begin_pool(int id) {
  std::lock_guard lock(mutex_);
  current_pool_ = id;
}
void CudaBackend::end_pool() {
  std::lock_guard lock(mutex_);
  current_pool_ = 0;
}

void CudaBackend::trim() {
  std::lock_guard lock(mutex_);
  if (auto shared = pools_.find(0); shared != pools_.end()) shared->second->release_free_segments();
}

void* CudaBackend::allocate(size_t bytes) {
  std::lock_guard lock(mutex_);
  std::unique_ptr<BlockPool>& pool = pools_[current_pool_];
  if (!pool)
    pool = std::make_unique<BlockPool>(
        [](size_t segment) {
          void* data = nullptr;
          check(cudaMalloc(&data, segment), "cudaMalloc");
          return data;
        },
        [](void* segment) { cudaFree(segment); });
  void* data = pool->allocate(bytes);
  owner_[data] = current_pool_;
  live_bytes_ += bytes;
  peak_live_bytes_ = std::max(peak_live_bytes_, live_bytes_);
  return data;
}

double CudaBackend::available_bytes() const {
  size_t free = 0, total = 0;
  check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  return static_cast<double>(free);
}

size_t CudaBackend::live_bytes() const {
  std::lock_guard lock(mutex_);
  return live_bytes_;
}

size_t CudaBackend::peak_live_bytes() const {
  std::lock_guard lock(mutex_);
  return peak_live_bytes_;
}

void CudaBackend::reset_peak() {
  std::lock_guard lock(mutex_);
  peak_live_bytes_ = live_bytes_;
}

void CudaBackend::release(void* data, size_t bytes) {
  std::lock_guard lock(mutex_);
  live_bytes_ -= bytes;
  auto owner = owner_.find(data);
  pools_.at(owner->second)->release(data);
  owner_.erase(owner);
}

void CudaBackend::copy_from_host(void* dst, const void* src, size_t bytes) {
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream_, &capturing), "cudaStreamIsCapturing");
  if (bytes > kStagingBytes || capturing != cudaStreamCaptureStatusNone) {  // large, or inside a capture: wait
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "copy to device");
    check(cudaStreamSynchronize(stream_), "copy to device");
    return;
  }
  // Through a pinned staging slot: the host returns at once (the caller may reuse src) while the copy
  // waits its turn on the stream, so batches and step values of the next step queue behind the running one.
  StagingSlot& slot = staging_[next_staging_];
  next_staging_ = (next_staging_ + 1) % staging_.size();
  if (slot.ready) check(cudaEventSynchronize(slot.ready), "staging slot");  // its previous copy has left
  if (slot.capacity < bytes) {
    if (slot.host) check(cudaFreeHost(slot.host), "cudaFreeHost");
    check(cudaHostAlloc(&slot.host, bytes, cudaHostAllocDefault), "cudaHostAlloc(staging)");
    slot.capacity = bytes;
  }
  if (!slot.ready) check(cudaEventCreateWithFlags(&slot.ready, cudaEventDisableTiming), "cudaEventCreate(staging)");
  std::memcpy(slot.host, src, bytes);
  check(cudaMemcpyAsync(dst, slot.host, bytes, cudaMemcpyHostToDevice, stream_), "copy to device");
  check(cudaEventRecord(slot.ready, stream_), "cudaEventRecord(staging)");
}

void CudaBackend::copy_to_host(void* dst, const void* src, size_t bytes) {
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "copy to host");
  check(cudaStreamSynchronize(stream_), "copy to host");
}

namespace {
template <typename T> __global__ void fill_kernel(T* out, int64_t n, T value) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = value;
}

template <typename S, typename T> __global__ void convert_kernel(const S* in, T* out, int64_t n) {
  const int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (i < n) out[i] = static_cast<T>(in[i]);
}

template <typename T, typename Index>
__global__ void strided_copy_kernel(const T* in, T* out, StridedArgs<2> a, bool accumulate) {
  const Index i = static_cast<Index>(blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x);
  if (i >= static_cast<Index>(a.numel)) return;
  Index at[2];
  strided_offsets<Index, 2>(a, i, at);
  out[at[1]] = accumulate ? out[at[1]] + in[at[0]] : in[at[0]];
}

// The same copy four floats at a time, where the last axis is contiguous on both sides (vectorised
// loads and stores, a quarter of the index arithmetic). `a` counts in float4s.
template <typename Index>
__global__ void strided_copy4_kernel(const float4* in, float4* out, StridedArgs<2> a, bool accumulate) {
  const Index i = static_cast<Index>(blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x);
  if (i >= static_cast<Index>(a.numel)) return;
  Index at[2];
  strided_offsets<Index, 2>(a, i, at);
  float4 v = in[at[0]];
  if (accumulate) {
    const float4 o = out[at[1]];
    v = make_float4(o.x + v.x, o.y + v.y, o.z + v.z, o.w + v.w);
  }
  out[at[1]] = v;
}

// `a` in units of four elements when every view is contiguous along a last axis of a multiple of four
// and every other stride, offset and base address is a multiple of four elements (16 bytes).
bool in_fours(StridedArgs<2>& a, const void* in, const void* out) {
  const int last = a.ndim - 1;
  if (a.shape[last] % 4 != 0 || reinterpret_cast<uintptr_t>(in) % 16 != 0 || reinterpret_cast<uintptr_t>(out) % 16 != 0)
    return false;
  for (int k = 0; k < 2; ++k) {
    if (a.strides[k][last] != 1 || a.offsets[k] % 4 != 0) return false;
    for (int d = 0; d < last; ++d)
      if (a.strides[k][d] % 4 != 0) return false;
  }
  a.shape[last] /= 4;
  a.numel /= 4;
  for (int k = 0; k < 2; ++k) {
    a.offsets[k] /= 4;
    for (int d = 0; d < last; ++d) a.strides[k][d] /= 4;
  }
  return true;
}

// Calls fn(T{}) with T the C++ type of `dtype` (any dtype).
template <typename Fn> void dispatch_any(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32: fn(float{}); break;
    case DType::f64: fn(double{}); break;
    case DType::i32: fn(int32_t{}); break;
  }
}
}  // namespace

void CudaBackend::fill(Tensor& out, double value) {
  if (out.numel() == 0) return;
  dispatch_any(out.dtype(), [&](auto zero) {
    using T = decltype(zero);
    fill_kernel<<<blocks_for(out.numel()), kThreads, 0, stream_>>>(static_cast<T*>(out.raw()), out.numel(), static_cast<T>(value));
  });
  check_launch("fill");
}

void CudaBackend::convert(const Tensor& x, Tensor& out) {
  if (x.numel() == 0) return;
  dispatch_any(x.dtype(), [&](auto s) {
    dispatch_any(out.dtype(), [&](auto t) {
      using S = decltype(s);
      using T = decltype(t);
      convert_kernel<<<blocks_for(x.numel()), kThreads, 0, stream_>>>(static_cast<const S*>(x.raw()), static_cast<T*>(out.raw()), x.numel());
    });
  });
  check_launch("convert");
}

void CudaBackend::strided_copy(const Tensor& x, const StridedView& view_x, Tensor& out, const StridedView& view_out,
                               bool accumulate) {
  StridedArgs<2> a = strided_args<2>({&view_x, &view_out});
  if (a.numel == 0) return;
  if (x.dtype() == DType::f32 && in_fours(a, x.raw(), out.raw())) {
    const float4* in = static_cast<const float4*>(x.raw());
    float4* o = static_cast<float4*>(out.raw());
    if (fits_32_bits(a))
      strided_copy4_kernel<int32_t><<<blocks_for(a.numel), kThreads, 0, stream_>>>(in, o, a, accumulate);
    else
      strided_copy4_kernel<int64_t><<<blocks_for(a.numel), kThreads, 0, stream_>>>(in, o, a, accumulate);
    check_launch("strided_copy");
    return;
  }
  dispatch_any(x.dtype(), [&](auto zero) {
    using T = decltype(zero);
    const T* in = static_cast<const T*>(x.raw());
    T* o = static_cast<T*>(out.raw());
    if (fits_32_bits(a))
      strided_copy_kernel<T, int32_t><<<blocks_for(a.numel), kThreads, 0, stream_>>>(in, o, a, accumulate);
    else
      strided_copy_kernel<T, int64_t><<<blocks_for(a.numel), kThreads, 0, stream_>>>(in, o, a, accumulate);
  });
  check_launch("strided_copy");
}

}  // namespace mechlab
