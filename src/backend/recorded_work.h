// Device work recorded once and replayed many times (CUDA graphs). Memory the recorded work allocates
// belongs to it for good, so replays never collide with other tensors.
#pragma once
#include <functional>
#include <memory>

#include "tensor/dtype.h"

namespace mechlab {

class RecordedWork {
 public:
  virtual ~RecordedWork() = default;
  // Launches the recorded work again (asynchronously, in order with other work on the device).
  virtual void replay() = 0;
};

// Records what `body` launches on `device` without running it; nullptr where recording is not
// supported (the CPU, or a build without CUDA). Call replay() to run it, including the first time.
std::unique_ptr<RecordedWork> record_work(Device device, const std::function<void()>& body);

}  // namespace mechlab
