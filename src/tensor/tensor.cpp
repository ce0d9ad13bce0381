#include "tensor/tensor.h"

#include <cstring>
#include <stdexcept>

#include "autograd/engine.h"
#include "backend/backend.h"

namespace mechlab {

Buffer::Buffer(Device device, size_t bytes)
    : device(device), bytes(bytes), data(backend_for(device).allocate(bytes)) {}
Buffer::~Buffer() { backend_for(device).release(data, bytes); }

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t extent : shape)
    if (extent < 0) throw std::invalid_argument("negative extent in shape " + to_string(shape));
  Tensor t;
  t.impl_ = std::make_shared<TensorImpl>();
  t.impl_->shape = shape;
  t.impl_->dtype = dtype;
  t.impl_->buffer = std::make_shared<Buffer>(device, static_cast<size_t>(mechlab::numel(shape)) * dtype_size(dtype));
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  backend_for(device).fill(t, value);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) { return full(shape, 0.0, dtype, device); }

template <typename T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values, Device device) {
  if (static_cast<int64_t>(values.size()) != mechlab::numel(shape))
    throw std::invalid_argument("from_vector: " + std::to_string(values.size()) + " values for shape " +
                                to_string(shape));
  Tensor t = empty(shape, dtype_of<T>(), device);
  backend_for(device).copy_from_host(t.raw(), values.data(), t.bytes());
  return t;
}
template Tensor Tensor::from_vector<float>(const Shape&, const std::vector<float>&, Device);
template Tensor Tensor::from_vector<double>(const Shape&, const std::vector<double>&, Device);
template Tensor Tensor::from_vector<int32_t>(const Shape&, const std::vector<int32_t>&, Device);

const Shape& Tensor::shape() const { return impl_->shape; }
int64_t Tensor::dim(int axis) const { return impl_->shape[normalize_axis(axis, ndim())]; }
int64_t Tensor::numel() const { return mechlab::numel(impl_->shape); }
DType Tensor::dtype() const { return impl_->dtype; }
Device Tensor::device() const { return impl_->buffer->device; }
void* Tensor::raw() { return impl_->buffer->data; }
const void* Tensor::raw() const { return impl_->buffer->data; }

template <typename T> T* Tensor::data() {
  if (dtype_of<T>() != dtype())
    throw std::invalid_argument(std::string("tensor holds ") + dtype_name(dtype()) + ", not " +
                                dtype_name(dtype_of<T>()));
  return static_cast<T*>(raw());
}
template <typename T> const T* Tensor::data() const { return const_cast<Tensor*>(this)->data<T>(); }
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template int32_t* Tensor::data<int32_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const int32_t* Tensor::data<int32_t>() const;

template <typename T> std::vector<T> Tensor::to_vector() const {
  Tensor host = device() == Device::cpu ? *this : to(Device::cpu);
  if (host.dtype() != dtype_of<T>()) host = host.to(dtype_of<T>());
  const T* p = host.data<T>();
  return std::vector<T>(p, p + numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;

double Tensor::item() const {
  if (numel() != 1) throw std::invalid_argument("item() of a tensor of shape " + to_string(shape()));
  return to_vector<double>()[0];
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  if (target == Device::cpu)
    backend_for(device()).copy_to_host(out.raw(), raw(), bytes());
  else
    backend_for(target).copy_from_host(out.raw(), raw(), bytes());
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, device());
  backend_for(device()).convert(*this, out);
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  backend_for(device()).strided_copy(*this, StridedView::contiguous(shape()), out,
                                     StridedView::contiguous(shape()), false);
  return out;
}

bool Tensor::requires_grad() const { return impl_->requires_grad; }
Tensor& Tensor::set_requires_grad(bool enabled) {
  impl_->requires_grad = enabled;
  return *this;
}
const Tensor& Tensor::grad() const { return impl_->grad; }
void Tensor::set_grad(Tensor grad) const { impl_->grad = std::move(grad); }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return impl_->grad_fn; }
void Tensor::set_grad_fn(std::shared_ptr<Node> node) const { impl_->grad_fn = std::move(node); }
void Tensor::backward() const { run_backward(*this); }

Tensor Tensor::detach() const {
  Tensor t;
  t.impl_ = std::make_shared<TensorImpl>();
  t.impl_->shape = impl_->shape;
  t.impl_->dtype = impl_->dtype;
  t.impl_->buffer = impl_->buffer;
  return t;
}

Tensor Tensor::view(const Shape& shape) const {
  if (mechlab::numel(shape) != numel())
    throw std::invalid_argument("cannot view " + to_string(this->shape()) + " as " + to_string(shape));
  Tensor t = detach();
  t.impl_->shape = shape;
  return t;
}

}  // namespace mechlab
