// The tasks mechlab knows, by name: their option schemas (validated under "task.") and factories.
// Adding a task adds one entry in registry.cpp.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/schema.h"
#include "task/task.h"

namespace mechlab {

struct TaskEntry {
  std::string name;
  std::string summary;  // one line for `mechlab tasks`
  Schema options;       // keys relative to "task."
  std::unique_ptr<Task> (*make)(const nlohmann::json& resolved_task_section);
};

const std::vector<TaskEntry>& task_registry();
std::vector<std::string> task_names();
const Schema* task_schema(const std::string& name);  // nullptr for an unknown task
// Builds the task of a resolved "task" section.
std::unique_ptr<Task> make_task(const nlohmann::json& task_section);

}  // namespace mechlab
