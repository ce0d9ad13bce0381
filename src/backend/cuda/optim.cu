// Optimizer updates over many parameters per launch: the tensors' pointers travel in the kernel's
// parameters (no host copies, so a captured step replays as is). Per-step values (learning rate, bias
// corrections) and clipping factors are read from device memory.
#include "backend/cuda/check.h"
#include "backend/cuda/cuda_backend.h"

namespace mechlab {

using namespace cuda;

namespace {
constexpr int kSlotsPerLaunch = 24;

template <typename T> struct SlotTable {
  int count;
  int64_t begin[kSlotsPerLaunch + 1];  // element offsets of each slot in the launch's index space
  int64_t block[kSlotsPerLaunch];      // elements per replica
  T* param[kSlotsPerLaunch];
  const T* grad[kSlotsPerLaunch];
  T* first[kSlotsPerLaunch];
  T* second[kSlotsPerLaunch];
};

// Where a thread's element lives: slot k, element i of that slot, replica r.
struct Element {
  int k;
  int64_t i, r;
};
template <typename T> __device__ inline Element locate(const SlotTable<T>& t, int64_t index) {
  int k = 0;
  while (k + 1 < t.count && index >= t.begin[k + 1]) ++k;
  const int64_t i = index - t.begin[k];
  return {k, i, i / t.block[k]};
}

template <typename T>
__global__ void adam_kernel(SlotTable<T> t, const double* values, const double* scales, AdamStep s) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= t.begin[t.count]) return;
  const auto [k, i, r] = locate(t, index);
  const double lr = values[3 * r + kLearningRate];
  const T step_size = static_cast<T>(lr / values[3 * r + kBias1]);
  const T bias2_sqrt = static_cast<T>(values[3 * r + kBias2Sqrt]);
  T gi = t.grad[k][i] * static_cast<T>(scales[r]);
  T pi = t.param[k][i];
  if (s.decoupled) pi *= static_cast<T>(1.0 - lr * s.weight_decay);
  else gi += static_cast<T>(s.weight_decay) * pi;
  const T m = static_cast<T>(s.beta1) * t.first[k][i] + static_cast<T>(1.0 - s.beta1) * gi;
  const T v = static_cast<T>(s.beta2) * t.second[k][i] + static_cast<T>(1.0 - s.beta2) * gi * gi;
  t.first[k][i] = m;
  t.second[k][i] = v;
  t.param[k][i] = pi - step_size * m / (sqrt(v) / bias2_sqrt + static_cast<T>(s.eps));
}

template <typename T>
__global__ void sgd_kernel(SlotTable<T> t, const double* values, const double* scales, SgdStep s) {
  const int64_t index = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (index >= t.begin[t.count]) return;
  const auto [k, i, r] = locate(t, index);
  T gi = t.grad[k][i] * static_cast<T>(scales[r]) + static_cast<T>(s.weight_decay) * t.param[k][i];
  if (s.momentum != 0.0) {
    t.first[k][i] = static_cast<T>(s.momentum) * t.first[k][i] + gi;
    gi = t.first[k][i];
  }
  t.param[k][i] -= static_cast<T>(values[3 * r + kLearningRate]) * gi;
}

// Calls launch(table, elements) for groups of up to kSlotsPerLaunch slots.
template <typename T, typename Launch> void for_slot_groups(const std::vector<OptimizerSlot>& slots, Launch launch) {
  for (size_t first = 0; first < slots.size(); first += kSlotsPerLaunch) {
    SlotTable<T> table{};
    table.count = static_cast<int>(std::min<size_t>(kSlotsPerLaunch, slots.size() - first));
    for (int k = 0; k < table.count; ++k) {
      const OptimizerSlot& slot = slots[first + k];
      table.begin[k + 1] = table.begin[k] + slot.param.numel();
      table.block[k] = slot.param.numel() / slot.param.dim(0);
      table.param[k] = static_cast<T*>(const_cast<void*>(slot.param.raw()));
      table.grad[k] = static_cast<const T*>(slot.grad.raw());
      table.first[k] = slot.first_moment.defined() ? static_cast<T*>(const_cast<void*>(slot.first_moment.raw())) : nullptr;
      table.second[k] = slot.second_moment.defined() ? static_cast<T*>(const_cast<void*>(slot.second_moment.raw())) : nullptr;
    }
    launch(table, table.begin[table.count]);
  }
}
}  // namespace

void CudaBackend::adam_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values,
                              const Tensor& grad_scale, const AdamStep& step) {
  if (slots.empty()) return;
  dispatch_float(slots[0].param.dtype(), [&]<typename T>() {
    for_slot_groups<T>(slots, [&](const SlotTable<T>& table, int64_t n) {
      adam_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(table, step_values.data<double>(), grad_scale.data<double>(), step);
    });
  });
  check_launch("adam_update");
}

void CudaBackend::sgd_update(const std::vector<OptimizerSlot>& slots, const Tensor& step_values, const Tensor& grad_scale,
                             const SgdStep& step) {
  if (slots.empty()) return;
  dispatch_float(slots[0].param.dtype(), [&]<typename T>() {
    for_slot_groups<T>(slots, [&](const SlotTable<T>& table, int64_t n) {
      sgd_kernel<<<blocks_for(n), kThreads, 0, stream_>>>(table, step_values.data<double>(), grad_scale.data<double>(), step);
    });
  });
  check_launch("sgd_update");
}

}  // namespace mechlab
