// Building projects by hand for tests of the layers below the manifest reader.
#pragma once

#include <fmt/format.h>

#include "model/change.hpp"
#include "model/project.hpp"

namespace topo::test {

inline IpAddr ip(const char* s) { return *IpAddr::parse(s); }
inline Prefix pfx(const char* s) { return *Prefix::parse(s); }

inline Network bridge_net(const std::string& name, const char* subnet = nullptr,
                          const char* range = nullptr) {
    Network n;
    n.name = name;
    if (subnet) {
        IpamConfig c;
        c.subnet = pfx(subnet);
        if (range) c.ip_range = pfx(range);
        n.ipv4 = c;
    }
    return n;
}

// A network made dual-stack, its IPv6 from `subnet`.
inline void with_ipv6(Network& n, const char* subnet) {
    n.enable_ipv6 = true;
    IpamConfig c;
    c.subnet = pfx(subnet);
    n.ipv6 = c;
}

inline Endpoint ep(const std::string& network, const std::string& ifname = "eth0",
                   const char* v4 = nullptr) {
    Endpoint e;
    e.network = network;
    e.interface_name = ifname;
    if (v4) e.ipv4_address = ip(v4);
    return e;
}

inline Service svc(const std::string& name, std::vector<Endpoint> eps) {
    Service s;
    s.name = name;
    s.hostname = name;
    s.endpoints = std::move(eps);
    return s;
}

// shop: frontend 10.0.42.0/24 (range .128/25), backend 10.0.43.0/24 (internal);
// web on both, db on backend.
inline Project shop() {
    Project p;
    p.name = "shop";
    p.networks["frontend"] = bridge_net("frontend", "10.0.42.0/24", "10.0.42.128/25");
    p.networks["backend"] = bridge_net("backend", "10.0.43.0/24");
    p.networks["backend"].internal = true;
    p.services["web"] = svc("web", {ep("frontend", "eth0", "10.0.42.130"), ep("backend", "eth1")});
    p.services["db"] = svc("db", {ep("backend")});
    return p;
}

// A plan as "action kind id" lines, in its order.
inline std::vector<std::string> lines(const Plan& p) {
    std::vector<std::string> out;
    for (auto& c : p.changes) out.push_back(fmt::format("{} {} {}", to_string(c.action), to_string(c.kind()), c.id()));
    return out;
}

}  // namespace topo::test
