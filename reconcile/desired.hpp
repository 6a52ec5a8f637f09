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
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"
#include "model/change.hpp"
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

// Parts. Each object of a desired state is either one service's own (its
// namespace and everything in it, the host ends of its veths, the entries
// for it on an overlay's VXLAN device, its host route through a macvlan
// shim) or project-wide (the networks' links and gateway addresses, the
// all-zero entries of the VXLAN devices, the firewall and its sysctls, the
// files). A service's own objects depend on that service, its addressing,
// the project's networks and hosts, and this host alone.
bool project_wide(const Object& o);

// `topo watch` after a change of some services alone (a commit that moves,
// adds or edits a few of 5,000): `state`, the whole desired state of `was`
// and `was_addressing` with `was_ctx`, is taken and made (`p`, `a`)'s by
// replacing the own objects of the services `changed` names (every service
// whose entry, or addressing, differs: with_replicas, readdressed) and
// working the project-wide ones out again, and `moved` is what that
// changed. `was_addressing` need hold only the networks, the changed
// services' endpoints and the host's own (host_access, for their routes). Both cost
// what the change touches, not what the project holds (the project-wide
// part aside). Nothing, with `state` untouched, when the change reaches
// further: the networks, the hosts, a network's addressing or the context
// (this host, the overlays' MTU) changed, a
// network came to this host or left it, or two kernel names collide (the
// whole desired_state says which).
struct DesiredSince {
    Desired desired;
    std::vector<Change> moved;
};
std::optional<DesiredSince> desired_since(HostState& state, const Project& was, const Addressing& was_addressing,
                                          const DesiredContext& was_ctx, const Project& p, const Addressing& a,
                                          const DesiredContext& ctx, const std::set<std::string>& changed);
// The services of entries `touched` (the manifest's), with their replicas in `was` or `p`.
std::set<std::string> with_replicas(const Project& was, const Project& p, std::set<std::string> touched);
// Adds to `touched` each service whose endpoints' addressing differs between `was` and `now`.
void readdressed(const Addressing& was, const Addressing& now, std::set<std::string>& touched);

}  // namespace topo
