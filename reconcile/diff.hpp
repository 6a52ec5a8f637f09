// diff(desired, live) → changes. Pure.
//
// Rules:
//   - Identity is (kind, id); an object only in `desired` is created, one only
//     in `live` is deleted if it is topo's (found by marker; foreign objects
//     that were merely read, like an external bridge, are never deleted).
//   - Only fields the desired object sets are compared (unset mtu, mac: the
//     kernel's choice stands). A difference in a field the kernel can change in
//     place is an update; in one it cannot (veth peer, macvlan parent, vxlan id)
//     a replace.
//   - A live object with the desired identity that is not topo's (a user's
//     bridge of that name) is a conflict, not a change: topo never takes over.
//   - Replacing a link drops its addresses and routes in the kernel, so those
//     are re-created even when they compared equal.
#pragma once

#include <string>
#include <vector>

#include "model/change.hpp"
#include "model/objects.hpp"

namespace topo {

struct DiffResult {
    std::vector<Change> changes;         // unordered; plan() orders them
    std::vector<std::string> conflicts;  // "bridge br0 exists and is not topo's; ..."
};

DiffResult diff(const HostState& desired, const HostState& live);

// Field-level differences of two objects of the same identity ("mtu 1500 → 1450").
// `replace` is set when a differing field cannot be changed in place.
std::vector<std::string> compare(const Object& desired, const Object& live, bool& replace);

}  // namespace topo
