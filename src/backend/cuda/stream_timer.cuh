// How long work on a stream takes, between two CUDA events: the timings of mechlab_bench --products
// (product_timing.cu, gemm_plans_fastest.cu).
#pragma once
#include <cuda_runtime.h>

#include <utility>

#include "backend/cuda/check.h"

namespace mechlab::cuda {

// Milliseconds that what `work` enqueues on `stream` takes; waits for it.
template <typename Work> float elapsed_ms(cudaStream_t stream, Work&& work) {
  cudaEvent_t start = nullptr, stop = nullptr;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  check(cudaEventRecord(start, stream), "cudaEventRecord");
  std::forward<Work>(work)();
  check(cudaEventRecord(stop, stream), "cudaEventRecord");
  check(cudaEventSynchronize(stop), "timing work on a stream");
  float ms = 0;
  check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return ms;
}

}  // namespace mechlab::cuda
