#include "autograd/hooks.h"

#include <stdexcept>

namespace mechlab {

Tensor ActivationHooks::at(const std::string& name, const Tensor& activation) {
  auto replacement = replacements_.find(name);
  Tensor result = replacement == replacements_.end() ? activation : replacement->second(activation);
  if (capture_all_ || captured_names_.count(name)) captured_[name] = result;
  return result;
}

const Tensor& ActivationHooks::get(const std::string& name) const {
  auto found = captured_.find(name);
  if (found == captured_.end()) throw std::out_of_range("no captured activation named '" + name + "'");
  return found->second;
}

}  // namespace mechlab
