// Named hook points (TransformerLens names, e.g. "blocks.0.attn.hook_pattern"): a model passes each
// intermediate activation through hooks.at(name, x), which can record it and can replace it
// (ablation, patching). Without hooks a model calls nothing and pays nothing. hook_point_names() lists a
// model's points; a forward pass refuses hooks registered on a name the model does not have, so a misspelt
// ablation cannot silently do nothing. pyvene's component names are accepted as aliases (hook_name_of).
#pragma once
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "nn/transformer_config.h"
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

  // Whether a pass through `name` would record or replace anything (a model may skip computing it otherwise).
  bool wants(const std::string& name) const {
    return capture_all_ || captured_names_.count(name) > 0 || replacements_.count(name) > 0;
  }

  const std::map<std::string, Tensor>& captured() const { return captured_; }
  const Tensor& get(const std::string& name) const;

  // The names captured or replaced that no forward pass has reached: hook points the model does not have.
  std::vector<std::string> unvisited() const;

 private:
  bool capture_all_ = false;
  std::set<std::string> captured_names_, visited_;
  std::map<std::string, Replacement> replacements_;
  std::map<std::string, Tensor> captured_;
};

// Every hook point of a model of this shape, in the order a forward pass reaches them.
std::vector<std::string> hook_point_names(const TransformerConfig& config);

// Throws std::invalid_argument naming the first of `names` that is not a hook point of `config`, with the
// closest valid name and the list of valid ones.
void check_hook_names(const std::vector<std::string>& names, const TransformerConfig& config);

// The TransformerLens name of pyvene's component at a layer ("block_output", 1 -> "blocks.1.hook_resid_post"),
// or "" when `component` is not one of pyvene's names.
std::string hook_name_of(const std::string& component, int layer);
// pyvene's component names, for messages.
std::vector<std::string> pyvene_components();

}  // namespace mechlab
