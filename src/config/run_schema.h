// Every key of a mechlab run config, with its type, default, range and meaning: the single source for
// validation, overrides, `mechlab validate` and docs/config.md.
#pragma once
#include "config/schema.h"

namespace mechlab {

const Schema& run_schema();

}  // namespace mechlab
