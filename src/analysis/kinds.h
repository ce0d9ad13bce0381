// The factories of the analysis kinds, one file each; analysis_spec.cpp dispatches on an entry's "kind".
#pragma once
#include <memory>

#include "analysis/analysis.h"

namespace mechlab {

std::unique_ptr<Analysis> make_ablation(const SpecReader& entry, const SpecTarget& target);
std::unique_ptr<Analysis> make_activation_patching(const SpecReader& entry, const SpecTarget& target);
std::unique_ptr<Analysis> make_path_patching(const SpecReader& entry, const SpecTarget& target);
std::unique_ptr<Analysis> make_subspace_patching(const SpecReader& entry, const SpecTarget& target);
std::unique_ptr<Analysis> make_head_importance(const SpecReader& entry, const SpecTarget& target);
std::unique_ptr<Analysis> make_direct_attribution(const SpecReader& entry, const SpecTarget& target);
std::unique_ptr<Analysis> make_circuits(const SpecReader& entry, const SpecTarget& target);
std::unique_ptr<Analysis> make_attention_flow(const SpecReader& entry, const SpecTarget& target);

}  // namespace mechlab
