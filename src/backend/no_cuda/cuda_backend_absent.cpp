// Built instead of src/backend/cuda when nvcc is absent: there is no CUDA backend.
#include "backend/backend.h"

namespace mechlab {

Backend* cuda_backend_or_null() { return nullptr; }

}  // namespace mechlab

#include "backend/recorded_work.h"

namespace mechlab {

std::unique_ptr<RecordedWork> record_work(Device, const std::function<void()>&) { return nullptr; }

}  // namespace mechlab
