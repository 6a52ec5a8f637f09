// A project's addressing as a value: the subnet and gateway of each network,
// the addresses, MAC and interface name of each endpoint, and the host ports
// handed out for ports published without one. IPAM (reconcile/ipam.hpp)
// computes it; the state record (state/store.hpp) keeps it between runs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "model/ip.hpp"
#include "model/project.hpp"

namespace topo {

struct NetAddressing {
    std::optional<Prefix> subnet4, subnet6;
    std::optional<IpAddr> gateway4, gateway6;
    bool operator==(const NetAddressing&) const = default;
};

struct EndpointAddressing {
    std::optional<IpAddr> v4, v6;
    std::optional<Mac> mac;  // static, or derived from v4 (02:42:a.b.c.d)
    std::string ifname;      // inside the sandbox
    bool operator==(const EndpointAddressing&) const = default;
};

// The endpoint key of a macvlan network's link for the host (`host_access`),
// as (host_access_key, network): not a valid service name, so never one of
// a service's. Its address comes from the network's pool like a sandbox's.
inline constexpr const char* host_access_key = "(host)";

// Key of a published port that had no `published` part: "service/proto/target/host_ip".
std::string ephemeral_port_key(const std::string& service, const Port& p);

struct Addressing {
    std::map<std::string, NetAddressing> networks;  // by network name
    // by (service, network)
    std::map<std::pair<std::string, std::string>, EndpointAddressing> endpoints;
    std::map<std::string, uint16_t> ephemeral_ports;  // by ephemeral_port_key

    const EndpointAddressing* endpoint(const std::string& service, const std::string& network) const {
        auto it = endpoints.find({service, network});
        return it == endpoints.end() ? nullptr : &it->second;
    }
    bool operator==(const Addressing&) const = default;
};

}  // namespace topo
