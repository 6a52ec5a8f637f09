// How a plan is shown: text (one line per change, for terminals and review),
// JSON (format_version 1, for machines) and Markdown (for a review comment).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "model/change.hpp"
#include "model/project.hpp"

namespace topo::cli {

// The manifest's warnings, to standard error, each "file:line:col: path: warning: ...".
void print_warnings(const Project& p);

std::string plan_text(const Plan& p, bool color);
std::string plan_json(const Plan& p);
// {"create": N, "update": N, "delete": N, "replace": N}, as in plan_json.
nlohmann::json summary_json(const Plan& p);
std::string plan_markdown(const Plan& p);
std::string summary_line(const Plan& p);
// "17 added, 0 changed, 0 destroyed." after a run.
std::string done_line(const Plan& p);

}  // namespace topo::cli
