// Carrying out a plan (reconcile/execute.hpp), and undoing this run's changes
// newest first when one fails or the run is stopped.
#include "reconcile/execute.hpp"

#include <fmt/format.h>

#include <set>

namespace topo {

namespace {

// The kernel operation that carries out `c`, if any.
std::optional<Change> forward(const Change& c) {
    if (c.implied) return std::nullopt;
    if (c.action == Action::Replace) return Change{Action::Create, std::nullopt, c.after, {}, {}};
    return c;
}

Change undo(const Change& c) {
    switch (c.action) {
        case Action::Create: return {Action::Delete, c.after, std::nullopt, {}, {}};
        case Action::Delete: return {Action::Create, std::nullopt, c.before, {}, {}};
        case Action::Update: return c.inverse();
        case Action::Replace: return {Action::Delete, c.after, std::nullopt, {}, {}};
    }
    return c;
}

// A sysctl that had no value before this run (the key of a link made in this
// run) goes away with its link: there is nothing to write back.
bool nothing_to_undo(const Change& c) {
    auto* before = c.before ? std::get_if<Sysctl>(&*c.before) : nullptr;
    return c.action == Action::Update && before && before->value.empty();
}

}  // namespace

ExecuteReport execute(Kernel& kernel, const std::vector<Change>& ordered, const Progress& done, const Stop& stop) {
    ExecuteReport r;
    while (r.applied < ordered.size()) {
        const Change& c = ordered[r.applied];
        try {
            if (auto op = forward(c)) kernel.apply(*op);
            else if (c.implied) kernel.implied(c);
        } catch (const KernelError& e) {
            r.failure = e.what();
            break;
        }
        ++r.applied;
        if (done) done(c);
        if (auto why = stop ? stop() : std::nullopt) {
            r.failure = fmt::format("{} after {} of {} changes", *why, r.applied, ordered.size());
            break;
        }
    }
    try {
        kernel.settle();
    } catch (const KernelError& e) {
        if (r.ok()) r.failure = e.what();
    }
    if (r.ok()) return r;
    r.rollback_failures = rollback(kernel, ordered, r.applied);
    return r;
}

std::vector<std::string> rollback(Kernel& kernel, const std::vector<Change>& ordered, size_t applied) {
    std::vector<std::string> failures;
    // Newest first. An implied deletion happened only if the deletion that
    // causes it did (its cause comes after it: a link's addresses are listed
    // before the link).
    std::set<std::string> happened;
    for (size_t i = 0; i < applied; ++i)
        if (!ordered[i].implied && ordered[i].action != Action::Create)
            happened.insert(fmt::format("{} {}", to_string(ordered[i].kind()), ordered[i].id()));
    for (size_t i = applied; i-- > 0;) {
        if (nothing_to_undo(ordered[i])) continue;
        if (ordered[i].implied && !happened.count(ordered[i].implied_by)) continue;
        try {
            kernel.apply(undo(ordered[i]));
        } catch (const KernelError& e) {
            failures.push_back(e.what());
        }
    }
    try {
        kernel.settle();
    } catch (const KernelError& e) {
        failures.push_back(e.what());
    }
    return failures;
}

}  // namespace topo
