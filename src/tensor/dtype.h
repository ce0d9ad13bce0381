// Element types and devices a tensor can have, and the dispatch from a runtime dtype to a C++ type.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace mechlab {

// f32 is the training type; f64 exists for gradient checks on the CPU; i32 holds token ids and targets.
enum class DType { f32, f64, i32 };
enum class Device { cpu, cuda };

inline size_t dtype_size(DType dtype) { return dtype == DType::f64 ? 8 : 4; }
inline const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "f32";
    case DType::f64: return "f64";
    case DType::i32: return "i32";
  }
  return "?";
}
inline const char* device_name(Device device) { return device == Device::cpu ? "cpu" : "cuda"; }

template <typename T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }

// Calls fn.template operator()<T>() with T the floating type of `dtype`.
template <typename Fn> decltype(auto) dispatch_float(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::f32: return fn.template operator()<float>();
    case DType::f64: return fn.template operator()<double>();
    default: throw std::invalid_argument(std::string("expected a floating tensor, got ") + dtype_name(dtype));
  }
}

}  // namespace mechlab
