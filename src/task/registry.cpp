#include "task/registry.h"

#include "config/config_error.h"
#include "tasks/bigram_backcopy/bigram_backcopy_task.h"
#include "tasks/icl_linreg/icl_linreg_task.h"
#include "tasks/ioi/ioi_task.h"
#include "tasks/retrieval/retrieval_task.h"

namespace mechlab {

const std::vector<TaskEntry>& task_registry() {
  static const std::vector<TaskEntry> registry = [] {
    std::vector<TaskEntry> tasks;
    tasks.push_back({"bigram_backcopy",
                     "Shakespeare bigrams with backcopy after trigger characters: attention sinks, active/dormant heads",
                     BigramBackcopyTask::options(),
                     [](const nlohmann::json& o) -> std::unique_ptr<Task> { return std::make_unique<BigramBackcopyTask>(o); }});
    tasks.push_back({"icl_linreg",
                     "In-context linear regression with multi-head softmax attention: debiased gradient descent",
                     IclLinregTask::options(),
                     [](const nlohmann::json& o) -> std::unique_ptr<Task> { return std::make_unique<IclLinregTask>(o); }});
    tasks.push_back({"retrieval",
                     "Multi-step variable retrieval (Musat 2025): stacked attention heads, one hop per layer",
                     RetrievalTask::options(),
                     [](const nlohmann::json& o) -> std::unique_ptr<Task> { return std::make_unique<RetrievalTask>(o); }});
    tasks.push_back({"ioi",
                     "Indirect object identification (Wang et al. 2022) trained from scratch: its heads and circuit",
                     IoiTask::options(),
                     [](const nlohmann::json& o) -> std::unique_ptr<Task> { return std::make_unique<IoiTask>(o); }});
    return tasks;
  }();
  return registry;
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const TaskEntry& task : task_registry()) names.push_back(task.name);
  return names;
}

const Schema* task_schema(const std::string& name) {
  for (const TaskEntry& task : task_registry())
    if (task.name == name) return &task.options;
  return nullptr;
}

std::unique_ptr<Task> make_task(const nlohmann::json& task_section) {
  const std::string name = task_section["name"];
  for (const TaskEntry& task : task_registry())
    if (task.name == name) return task.make(task_section);
  throw ConfigError("task.name", "unknown task '" + name + "'");
}

}  // namespace mechlab
