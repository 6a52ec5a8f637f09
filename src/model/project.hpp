// The project: what a manifest says, as plain values.
//
// The manifest reader (src/manifest) fills these in, with Compose defaults
// applied (implicit `default` network, interface names, driver defaults), and
// guarantees they are valid: every referenced network exists, addresses lie in
// their subnets, names are safe for paths and kernel names. Nothing here knows
// YAML or the kernel. Addresses that the manifest leaves open are chosen later
// by IPAM (reconcile/ipam.hpp) and recorded in the state file.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/ip.hpp"

namespace topo {

// Where a value came from in the manifest, for messages after parsing.
struct SourceMark {
    std::string file;
    int line = 0;    // 1-based; 0 = unknown
    int column = 0;  // 1-based
    bool operator==(const SourceMark&) const = default;
};
// "file:line:col: path" where the mark is known, else "path": how an error
// found after parsing (by IPAM, or against the host) names its place.
std::string located(const SourceMark& mark, const std::string& path);

enum class Driver { Bridge, Macvlan, Overlay };

struct IpamConfig {
    Prefix subnet;
    std::optional<Prefix> ip_range;
    std::optional<IpAddr> gateway;
    std::map<std::string, IpAddr> aux_addresses;
    SourceMark mark;   // of the subnet
    std::string path;  // "networks.n1.ipam.config[0].subnet"
    bool operator==(const IpamConfig&) const = default;
};

struct Network {
    std::string name;  // the manifest's key
    Driver driver = Driver::Bridge;
    std::string kernel_name;  // `name:` / bridge.name; empty = generated (model/naming.hpp)
    bool external = false;
    bool internal = false;
    bool enable_ipv6 = false;
    bool enable_icc = true;
    bool enable_masquerade = true;  // false when internal
    std::optional<uint32_t> mtu;
    std::optional<IpAddr> host_binding_ipv4;
    // macvlan
    std::string parent;
    std::string macvlan_mode = "bridge";  // bridge | private | vepa | passthru
    // `host_access: true`: a macvlan link of the host's own on the parent,
    // with an address from the network's pool, so the host and the
    // sandboxes reach each other (the kernel keeps a host from its own
    // macvlan sandboxes through the parent).
    bool host_access = false;
    // overlay
    std::optional<uint32_t> vxlan_id;  // unset: derived from the network name
    uint16_t dstport = 4789;
    std::string underlay;  // empty: chosen by route to the peers
    // `encrypted` (Docker's option, any value): asked for, never built
    // without it; where the key is, for the refusal.
    std::optional<SourceMark> encrypted;
    // ipam: at most one IPv4 and one IPv6 entry; none = picked from the default pools
    std::optional<IpamConfig> ipv4;
    std::optional<IpamConfig> ipv6;
    std::map<std::string, std::string> labels;
    bool implicit = false;  // the `default` network that Compose adds
    SourceMark mark;
    // Where the manifest names a link of the host that the network uses (an
    // external bridge's `name:`, a macvlan's `parent`), and that key's path:
    // a missing one is an error at that place.
    struct LinkAt {
        SourceMark mark;
        std::string path;
        bool operator==(const LinkAt&) const = default;
    } link_at;
    bool operator==(const Network&) const = default;
};

// One entry of services.<s>.networks: an endpoint of the sandbox.
struct Endpoint {
    std::string network;
    std::vector<std::string> aliases;
    std::optional<IpAddr> ipv4_address;
    std::optional<IpAddr> ipv6_address;
    std::optional<Mac> mac_address;
    std::string interface_name;  // always filled in by the reader (eth0, eth1, ...)
    int priority = 0;
    // Which endpoint carries the default route: the highest (Docker's
    // gw_priority), then interface order (gateway_order()).
    int gw_priority = 0;
    // Extra addresses of the link, 169.254.0.0/16 or fe80::/10 (Compose's
    // link_local_ips), outside IPAM: on the link with /16 or /64.
    std::vector<IpAddr> link_local_ips;
    SourceMark mark;
    bool operator==(const Endpoint&) const = default;
};

enum class Protocol { Tcp, Udp, Sctp };

struct PortRange {
    uint16_t first = 0;
    uint16_t last = 0;  // == first for a single port
    uint16_t count() const { return uint16_t(last - first + 1); }
    auto operator<=>(const PortRange&) const = default;
};

struct Port {
    std::optional<IpAddr> host_ip;       // unset: every host address
    std::optional<PortRange> published;  // unset: an ephemeral port (single target only)
    PortRange target;
    Protocol protocol = Protocol::Tcp;
    // x-topo-take-over: publish it even where a program of the host listens
    // on it (reconcile.cpp refuses that otherwise).
    bool take_over = false;
    SourceMark mark;
    bool operator==(const Port&) const = default;
};

enum class NetworkMode { Sandbox, None, Host, Service };

struct Service {
    std::string name;
    NetworkMode mode = NetworkMode::Sandbox;
    std::string mode_service;  // for NetworkMode::Service
    // Ordered as interfaces are numbered: priority (higher first), then network name.
    std::vector<Endpoint> endpoints;
    std::vector<Port> ports;
    std::vector<IpAddr> dns;
    std::vector<std::string> dns_search;
    std::vector<std::string> dns_opt;
    // (name, address); no address: Docker's `host-gateway`, the host itself at
    // the gateway of the sandbox's first network that has one.
    std::vector<std::pair<std::string, std::optional<IpAddr>>> extra_hosts;
    // Compose's links: (service, alias). The alias resolves, in this
    // sandbox only, to that service's address on the first network they share.
    std::vector<std::pair<std::string, std::string>> links;
    // A service-wide mac_address (Compose's older key): the reader puts it
    // on the first endpoint of gateway_order().
    std::optional<Mac> mac_address;
    std::string hostname;  // default: the service name
    std::string host;      // topo extension: which host of `hosts` runs it
    // deploy.replicas, scale or --scale, as written. The reader then makes
    // the service its replicas "<name>-1" … "<name>-N" (replica_of set),
    // and the service itself is no longer in `services`.
    std::optional<int> replicas;
    // Set on a replica: "<service>-<index>" of `count`. Its endpoints answer
    // the service's name and aliases and "<project>-<service>-<index>";
    // replica 1 carries the service's published ports, which the firewall
    // spreads over every replica (reconcile/firewall.cpp).
    struct Replica {
        std::string service;
        int index = 0;
        int count = 0;
        bool operator==(const Replica&) const = default;
    };
    std::optional<Replica> replica_of;
    SourceMark mark;

    bool has_sandbox() const { return mode == NetworkMode::Sandbox || mode == NetworkMode::None; }
    bool operator==(const Service&) const = default;
};

struct Host {
    std::string name;
    IpAddr address;
    bool operator==(const Host&) const = default;
};

struct Warning {
    SourceMark mark;
    std::string path;  // key path, e.g. networks.lan.driver_opts
    std::string message;
    bool operator==(const Warning&) const = default;
};

struct Project {
    std::string name;
    std::string source_file;
    std::map<std::string, Network> networks;
    std::map<std::string, Service> services;
    std::map<std::string, Host> hosts;
    std::vector<Warning> warnings;
    bool operator==(const Project&) const = default;
};

const char* to_string(Driver d);
const char* to_string(Protocol p);

// The kernel name of a network's bridge (or parent link for macvlan).
std::string bridge_name(const Project& p, const Network& n);
// Whether a service has a sandbox on this host (`host`: its name in `hosts`).
bool runs_here(const Project& p, const Service& s, const std::string& host);
// A service's endpoints in the order they are considered for its default
// route (and a service-wide mac_address): gw_priority, higher first, then
// interface order.
std::vector<const Endpoint*> gateway_order(const Service& s);
// The names of `service`'s replicas in `p` ("<service>-<index>": only those
// names are looked at).
std::vector<std::string> replicas_of(const Project& p, const std::string& service);

// The endpoint a service's published ports forward to: its first network that
// is not internal, in interface order; null when it has none.
inline const Endpoint* port_target(const Project& p, const Service& s) {
    for (auto& e : s.endpoints)
        if (auto it = p.networks.find(e.network); it != p.networks.end() && !it->second.internal) return &e;
    return nullptr;
}

}  // namespace topo
