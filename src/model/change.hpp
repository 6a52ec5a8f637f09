// A change to one kernel object, and a plan: the ordered list of changes.
//
// `diff` (reconcile/diff.hpp) produces changes; `plan` (reconcile/plan.hpp)
// orders them; the executor hands each to the kernel interface. A change is
// its own undo record: inverse() swaps before and after.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/objects.hpp"

namespace topo {

enum class Action { Create, Update, Delete, Replace };
const char* to_string(Action a);

struct Change {
    Change() = default;
    Change(Action a, std::optional<Object> b, std::optional<Object> f, std::vector<std::string> fs = {},
           std::string why = {})
        : action(a), before(std::move(b)), after(std::move(f)), fields(std::move(fs)), reason(std::move(why)) {}

    Action action = Action::Create;
    std::optional<Object> before;  // live object (update, delete, replace)
    std::optional<Object> after;   // desired object (create, update, replace)
    std::vector<std::string> fields;  // for update/replace: what differs ("mtu 1500 → 1450")
    std::string reason;               // optional note ("service old removed")
    // A deletion that happens by itself when its parent goes (an address of a deleted
    // link, a link inside a deleted namespace): not sent to the kernel, but undone on
    // rollback so the parent comes back whole.
    bool implied = false;
    // The deletion that makes an implied one happen ("netns shop-web"): on
    // rollback, an implied deletion is undone only if that one was carried out.
    std::string implied_by;

    const Object& object() const { return after ? *after : *before; }
    Kind kind() const { return kind_of(object()); }
    std::string id() const { return id_of(object()); }
    Change inverse() const;
};

struct Plan {
    std::string project;
    std::string host;  // name from `hosts`, or "" for a single host
    std::vector<Change> changes;
    std::vector<std::string> notes;  // e.g. "not implemented yet" warnings, shown before the summary

    bool empty() const { return changes.empty(); }
};

}  // namespace topo
