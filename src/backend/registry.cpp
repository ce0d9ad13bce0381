// Maps a device to its backend. The CUDA backend registers itself when it is built.
#include <stdexcept>

#include "backend/backend.h"
#include "backend/cpu/cpu_backend.h"

namespace mechlab {

Backend* cuda_backend_or_null();  // defined by the CUDA backend, or weakly below when it is not built

Backend& backend_for(Device device) {
  if (device == Device::cpu) {
    static CpuBackend cpu;
    return cpu;
  }
  if (Backend* cuda = cuda_backend_or_null()) return *cuda;
  throw std::runtime_error("this mechlab was built without the CUDA backend (nvcc was not found at build time)");
}

__attribute__((weak)) Backend* cuda_backend_or_null() { return nullptr; }

}  // namespace mechlab
