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
// Markdown: a summary first (totals, notes, a line per network and service),
// then each group's changes, folded (<details>) past 12; groups that would
// take it past `limit` characters are left out, and the comment says so
// (GitHub refuses a comment of more than 65,536). `project`, when known,
// names the network of what sits on a bridge the plan does not change.
std::string plan_markdown(const Plan& p, const Project* project = nullptr, size_t limit = 60000);
std::string summary_line(const Plan& p);
// "17 added, 0 changed, 0 destroyed." after a run.
std::string done_line(const Plan& p);

}  // namespace topo::cli
