#include "task/annotations.h"

#include <stdexcept>

namespace mechlab {

namespace {
const Tensor& find(const std::map<std::string, Tensor>& roles, const std::string& role, const char* kind) {
  auto found = roles.find(role);
  if (found == roles.end()) throw std::invalid_argument(std::string("the batch has no ") + kind + " annotation '" + role + "'");
  return found->second;
}
}  // namespace

const Tensor& Annotations::position(const std::string& role) const { return find(positions, role, "position"); }
const Tensor& Annotations::token(const std::string& role) const { return find(tokens, role, "token"); }
const Tensor& Annotations::mask(const std::string& role) const { return find(masks, role, "mask"); }

}  // namespace mechlab
