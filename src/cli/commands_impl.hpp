// One function per command; commands.cpp parses arguments and calls them.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/options.hpp"
#include "cli/session.hpp"
#include "reconcile/probe.hpp"

namespace topo::cli {

int cmd_validate(const Options& o);
int cmd_config(const Options& o);
int cmd_plan(const Options& o);
int cmd_plan_base(const Options& o);  // plan --base (cmd_review.cpp)
// A plan as --output says: text, JSON or Markdown.
void print_plan(const Options& o, const Plan& p, const Project* project = nullptr);
int cmd_apply(const Options& o);
int cmd_apply_saved(const Options& o);
int cmd_destroy(const Options& o);
int cmd_graph(const Options& o);
int cmd_show(const Options& o);
int cmd_ls(const Options& o);
int cmd_recover(const Options& o);
int cmd_exec(const Options& o);  // replaces the process; returns only by throwing
int cmd_watch(const Options& o);
int cmd_status(const Options& o);  // cmd_status.cpp
int cmd_probe(const Options& o);  // cmd_probe.cpp

// A probe of the host against `c` (a whole plan: its changes are the
// causes it names), as `topo probe` and `watch --probe` run it; failed
// reach probes are tried once more. `only`: services; empty is all.
struct ProbeResult {
    ProbePlan plan;
    ProbeReport report;  // its findings point into plan.expect
    double seconds = 0;
};
ProbeResult probe_host(Session& s, const Computed& c, const std::set<std::string>& only, std::chrono::milliseconds timeout);
nlohmann::json finding_json(const Finding& f);

// Ends a one-shot command that succeeded, with `rc`, once its output is
// flushed, without freeing its state object by object: at 1000 sandboxes the
// desired and live states, the plan and the manifest are ~100,000 allocations,
// ~3 ms to free that the kernel reclaims at once. (The project's lock is a
// flock, released when the process ends; nothing else is held.)
[[noreturn]] void leave(int rc);

// Throws UserError listing the plan's errors (a missing external bridge, a
// conflict with an object that is not topo's), if there are any.
void fail_on_errors(const std::vector<std::string>& errors);
// Execute a plan, then read back what it touched: done only when the host
// matches (throws UserError listing what still differs). `after_execute`
// runs between the two (watch takes the events of its own changes there).
void carry_out(Session& s, const Plan& p, const Desired& desired, const std::function<void()>& after_execute = {});
// A destroy, as `topo destroy` and `watch --prune` both run it, with the
// project's lock held: the plan with nothing desired; then, refused as a
// plan with errors is (a network others are attached to, without --force),
// carried out, and the record removed.
Computed plan_destroy(Session& s);
void finish_destroy(Session& s, const Computed& c);
// The same with the state record saved first (a run killed half-way leaves
// objects the next destroy can remove); a run rolled back restores it.
void carry_out_recorded(Session& s, const Plan& p, const Desired& desired, const ProjectRecord& next,
                        const std::function<void()>& after_execute = {});

}  // namespace topo::cli
