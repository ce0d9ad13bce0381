#include "sweep/visible_gpus.h"

#include <cstdlib>
#include <filesystem>

namespace mechlab {

std::vector<std::string> split_gpu_list(const std::string& list) {
  std::vector<std::string> gpus;
  size_t begin = 0;
  while (begin <= list.size()) {
    const size_t end = std::min(list.find(',', begin), list.size());
    if (end > begin) gpus.push_back(list.substr(begin, end - begin));
    begin = end + 1;
  }
  return gpus;
}

std::vector<std::string> visible_gpus() {
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) return split_gpu_list(visible);
  size_t count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/dev", error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 6 && name.rfind("nvidia", 0) == 0 && name.find_first_not_of("0123456789", 6) == std::string::npos)
      ++count;
  }
  std::vector<std::string> gpus;
  for (size_t i = 0; i < count; ++i) gpus.push_back(std::to_string(i));
  return gpus;
}

}  // namespace mechlab
