// Every key of a mechlab run config, each declared once and bound to its RunConfig field: the single
// source for validation, defaults, overrides, `mechlab validate`, docs/config.md and the typed RunConfig.
#pragma once
#include "config/config_binding.h"
#include "config/run_config.h"

namespace mechlab {

const ConfigBinding<RunConfig>& run_binding();
// run_binding().schema(), with the task section selected by task.name.
const Schema& run_schema();

}  // namespace mechlab
