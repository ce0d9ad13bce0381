// Maps a device to its backend.
#include <stdexcept>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"

namespace mechlab {

Backend& backend_for(Device device) {
  if (device == Device::cpu) {
    static CpuBackend cpu;
    return cpu;
  }
  if (Backend* cuda = cuda_backend_or_null()) return *cuda;
  throw std::runtime_error("no usable CUDA GPU here (or mechlab was built without nvcc)");
}

}  // namespace mechlab
