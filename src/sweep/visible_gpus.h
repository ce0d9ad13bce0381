// The GPUs a local sweep spreads its packs over, found without starting CUDA (the launcher itself uses no GPU):
// the entries of CUDA_VISIBLE_DEVICES when it is set, else one ordinal per /dev/nvidia<N> device file.
#pragma once
#include <string>
#include <vector>

namespace mechlab {

std::vector<std::string> visible_gpus();

// "0,1,3" -> {"0", "1", "3"}: a --gpus list (ordinals or UUIDs, as CUDA_VISIBLE_DEVICES takes them).
std::vector<std::string> split_gpu_list(const std::string& list);

}  // namespace mechlab
