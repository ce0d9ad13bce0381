// NumPy .npy files: how activation dumps and probe inputs travel between mechlab and a researcher's
// Python (numpy.load / numpy.save), one tensor per file.
#pragma once
#include <filesystem>
#include <string>

#include "tensor/tensor.h"

namespace mechlab {

// The complete .npy file (format 1.0, C order, little-endian '<f4' / '<f8' / '<i4') holding `tensor`,
// copied to the CPU first if it lives elsewhere. The data starts at a multiple of 64 bytes.
std::string npy_bytes(const Tensor& tensor);

// Writes npy_bytes(tensor) to `path` atomically.
void save_npy(const std::filesystem::path& path, const Tensor& tensor);

// Reads a C-order .npy file of format 1.0 or 2.0 with dtype '<f4', '<f8', '<i4', or '<i8' (NumPy's
// default integer; converted to i32, values outside int32 are an error) into a CPU tensor. Anything else
// throws std::runtime_error naming the file, the problem and how to re-save it.
Tensor load_npy(const std::filesystem::path& path);

}  // namespace mechlab
