// Named hook points (TransformerLens names, e.g. "blocks.0.attn.hook_pattern"): a model passes each
// intermediate activation through hooks.at(name, x), which can record it and can replace it
// (ablation, patching). Without hooks a model calls nothing and pays nothing.
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>

#include "tensor/tensor.h"

namespace mechlab {

class ActivationHooks {
 public:
  using Replacement = std::function<Tensor(const Tensor& activation)>;

  void capture(const std::string& name) { captured_names_.insert(name); }
  void capture_all() { capture_all_ = true; }
  void replace(const std::string& name, Replacement fn) { replacements_[name] = std::move(fn); }

  // Returns the activation the model continues with (replaced when a replacement is registered).
  Tensor at(const std::string& name, const Tensor& activation);

  const std::map<std::string, Tensor>& captured() const { return captured_; }
  const Tensor& get(const std::string& name) const;

 private:
  bool capture_all_ = false;
  std::set<std::string> captured_names_;
  std::map<std::string, Replacement> replacements_;
  std::map<std::string, Tensor> captured_;
};

}  // namespace mechlab
