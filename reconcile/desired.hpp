// The desired state: what the kernel should hold for a project on this host.
//
// Pure: Project + Addressing → kernel objects (model/objects.hpp). A bridge
// network becomes a bridge with the gateway addresses; each endpoint a veth
// pair from the bridge into the sandbox's namespace with its addresses; each
// sandbox a named namespace with a default route through the gateway of its
// first non-internal network. External networks are referenced, never built.
// Parts of the manifest whose kernel side is not built yet are reported in
// `errors`, so a plan never silently ignores them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"
#include "model/objects.hpp"
#include "model/project.hpp"
#include "reconcile/ipam.hpp"

namespace topo {

struct DesiredContext {
    std::string host;  // this host's name in `hosts` ("" when the manifest has none)
    std::string host_resolv_conf;  // for sandboxes without dns:
    std::string files_root = "/etc/netns";
    // A targeted run: only these services' sandboxes (and their files), with
    // every project-wide object; empty: all of them.
    std::set<std::string> only = {};
    // An overlay's MTU where the manifest sets none, by network: its
    // underlay's less the tunnel's headers (reconcile.cpp asks the kernel).
    std::map<std::string, uint32_t> overlay_mtu = {};
};

struct Desired {
    HostState state;
    ReadScope scope;                       // what to read from the kernel to compare with
    // What cannot be built: "networks.mesh: overlay networks are not implemented
    // yet", two objects whose generated kernel names collide.
    std::vector<std::string> errors;
};

// What to read from the kernel for this project (no addressing needed).
ReadScope read_scope(const Project& p);

Desired desired_state(const Project& p, const Addressing& a, const DesiredContext& ctx);

}  // namespace topo
