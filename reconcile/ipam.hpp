// IPAM: the addresses of every network and endpoint of a project.
//
// Pure: takes the project, the previous allocations (state file) and facts
// about the host (its routes, other projects' subnets) and returns the
// addressing, which becomes the next allocations. Rules, as Docker's:
//   - a network without ipam config gets the first default-pool subnet
//     (172.17-31.0.0/16, then 192.168.0-240.0/20) that overlaps nothing;
//   - the gateway defaults to the subnet's first host address;
//   - a dynamic address is the lowest free one of ip_range (or the subnet),
//     never the gateway, an aux address or another endpoint's static address;
//   - what was handed out before stays with its endpoint while still valid.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/addressing.hpp"
#include "model/ip.hpp"
#include "model/project.hpp"

namespace topo {

// A bridge that topo did not make (an external network), as the kernel has it:
// where the manifest gives no ipam, its subnet and gateway are the bridge's
// own address; every address seen on it is left alone.
struct ExternalBridge {
    std::optional<Prefix> subnet4, subnet6;  // from its first IPv4 and global IPv6 address
    std::optional<IpAddr> gateway4, gateway6;
    std::set<IpAddr> used;  // its addresses, its neighbours', ones a probe found
};

struct IpamInput {
    const Project* project = nullptr;
    Addressing previous;                // from the state file (may be empty)
    std::vector<Prefix> host_routes;    // to avoid, default routes excluded
    std::vector<Prefix> other_subnets;  // networks of other topo projects on this host
    std::vector<uint16_t> used_ports;   // host ports already taken (other projects)
    // A targeted apply (`topo apply -f F SERVICE...`): only these services'
    // endpoints and ports are allocated afresh. Every other endpoint keeps what
    // `previous` says its sandbox holds, since that sandbox is not touched, and
    // those addresses are taken for the named ones; a service gone from the
    // manifest keeps its allocations until a full apply removes its sandbox.
    std::set<std::string> only = {};
    std::map<std::string, ExternalBridge> external = {};  // by network name
};

struct IpamError {
    std::string path;  // networks.frontend or services.web.networks.frontend
    std::string message;
};

struct IpamResult {
    Addressing addressing;
    std::vector<IpamError> errors;  // e.g. "ip_range 10.0.42.128/30 is exhausted"
};

IpamResult allocate(const IpamInput& in);

// `topo watch` after a change of some services alone: `last`, what
// allocate() gave the project before (the record: `in.previous` need hold
// only its networks), is taken and changed only for the services `touched`
// (final names, replicas included), whose endpoints are allocated as
// allocate() would: their static address, else their last one while still
// valid and free, else the lowest free one. It costs what they touch, not
// the 5,000 endpoints of the others (those are looked at only to find a
// free address). Nothing, with `last` untouched, where allocate() would
// give more than that: the networks' subnets or gateways would change, a
// touched address is another endpoint's, an external network (its
// addresses come from the kernel), a touched service has an ephemeral
// port or publishes one that is taken, or an error (allocate() says it).
struct IpamSince {
    IpamResult result;
    Addressing before;  // the networks, the touched services' endpoints as they were, and the host's (host_access)
    bool same = false;  // nothing changed: the record on disk still says it
};
std::optional<IpamSince> allocate_since(const IpamInput& in, Addressing& last, const std::set<std::string>& touched,
                                        const Project& was);

}  // namespace topo
