// execute(kernel, ordered changes): carry out a plan, undoing this run's
// changes in reverse order when one fails.
//
// What is sent to the kernel for each change:
//   Create, Update, Delete → the change itself; an `implied` Delete → nothing
//   (its parent's deletion did it); Replace → a Create of `after` (its old
//   object was deleted in phase 1, see plan.hpp).
// The undo of each is its inverse; an implied deletion is undone by creating
// the object again, since its parent comes back empty.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"
#include "model/change.hpp"

namespace topo {

struct ExecuteReport {
    size_t applied = 0;                       // changes carried out before a failure (or all)
    std::optional<std::string> failure;       // the kernel's refusal, with its object
    std::vector<std::string> rollback_failures;
    bool ok() const { return !failure; }
};

using Progress = std::function<void(const Change&)>;

// `stop`, asked after each change, ends the run there as a failure with its
// answer as the reason (a signal: "interrupted by SIGTERM"), rolled back.
using Stop = std::function<std::optional<std::string>()>;

ExecuteReport execute(Kernel& kernel, const std::vector<Change>& ordered, const Progress& done = {},
                      const Stop& stop = {});
// Undo the first `applied` changes of `ordered`, newest first (execute() does
// it after a failure; apply after a run that did not converge). Returns the
// kernel's refusals.
std::vector<std::string> rollback(Kernel& kernel, const std::vector<Change>& ordered, size_t applied);

}  // namespace topo
