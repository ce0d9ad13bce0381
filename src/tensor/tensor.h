// Tensor: a shared handle to contiguous storage plus the autograd metadata of the value it holds.
// Tensors are immutable once an op has produced them; only optimizers write parameters in place.
#pragma once
#include <memory>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/shape.h"

namespace mechlab {

class Backend;
struct Node;

// Owns device memory; returned to its backend's cache on destruction.
struct Buffer {
  Buffer(Device device, size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  Device device;
  size_t bytes;
  void* data;
};

struct TensorImpl;

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32, Device device = Device::cpu);
  template <typename T> static Tensor from_vector(const Shape& shape, const std::vector<T>& values,
                                                  Device device = Device::cpu);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int ndim() const { return static_cast<int>(shape().size()); }
  int64_t dim(int axis) const;
  int64_t numel() const;
  DType dtype() const;
  Device device() const;
  size_t bytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }

  template <typename T> T* data();
  template <typename T> const T* data() const;
  void* raw();
  const void* raw() const;

  // Host copies of the values, converted to T; `item` reads a one-element tensor.
  template <typename T> std::vector<T> to_vector() const;
  double item() const;
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor clone() const;

  // Autograd.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool enabled);
  const Tensor& grad() const;
  void set_grad(Tensor grad) const;
  void zero_grad() const { set_grad(Tensor()); }
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> node) const;
  // Backward from this one-element tensor; gradients accumulate into leaves' grad().
  void backward() const;
  // Same storage, no history: what backward closures keep of an op's output.
  Tensor detach() const;
  // A view of the same storage with another shape of equal size (no history; the reshape op adds it).
  Tensor view(const Shape& shape) const;

  TensorImpl* impl() const { return impl_.get(); }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

struct TensorImpl {
  Shape shape;
  DType dtype = DType::f32;
  std::shared_ptr<Buffer> buffer;
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
};

}  // namespace mechlab
