// plan(changes) → ordered changes. Pure.
//
// Ordering rules (docs/cli.md, "Apply"):
//   1. All deletions first, so names and addresses they free can be reused by
//      creations of the same run. Deletions run in reverse dependency order:
//      files, sysctls, nftables, routes, addresses, links (ports before their
//      bridge), namespaces.
//   2. Then creations and updates in dependency order: namespaces; bridges and
//      VXLAN devices before the veth/macvlan ports that attach to them;
//      addresses; routes; nftables (one atomic transaction); sysctls — after
//      the firewall, so forwarding is never on without isolation rules; files.
//   3. Replacements are a deletion (in phase 1) and a creation (in phase 2), so
//      two interfaces that swap names never collide. The Replace change left in
//      phase 2 only creates: its `before` is gone by then.
//   4. A deletion that its parent's deletion makes happen by itself (an address
//      of a deleted link; a link, address or route inside a deleted namespace;
//      a veth whose other end is in a deleted namespace) is marked `implied`:
//      shown, not sent to the kernel; the executor then waits for the kernel.
//   5. Within one rank, changes are ordered by id, so a plan is deterministic.
#pragma once

#include <vector>

#include "model/change.hpp"

namespace topo {

// Position of a kind in the creation order (rule 2).
int rank(Kind k);

std::vector<Change> plan(std::vector<Change> changes);

}  // namespace topo
