// Checks across the manifest, once every part is read: references between
// services and networks, interface naming, static addresses against IPAM,
// overlapping subnets and published ports.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "manifest/parsers.hpp"

namespace topo::manifest {

namespace {

yaml::Node at_endpoint(const Reader& r, const Service& s, const Endpoint& e) {
    auto nw = node_at(r.service(s.name), {"networks"});
    if (nw.IsMap() && nw[e.network]) return nw[e.network];
    return nw;
}

std::string network_list(const Project& p) {
    std::vector<std::string> names;
    for (auto& [n, net] : p.networks)
        if (!net.implicit) names.push_back(n);
    return fmt::format("{}", fmt::join(names, ", "));
}

void check_endpoints(Reader& r, Project& p) {
    for (auto& [name, s] : p.services) {
        for (auto& e : s.endpoints) {
            // Where an error is said, and its key path: made only then.
            auto path = [&svc = name, &e] { return join_path("services." + svc + ".networks", e.network); };
            // Where an error points: looked up only when there is one (three
            // yaml-cpp lookups per endpoint otherwise, for nothing).
            // (`svc`: clang 14 cannot capture a structured binding.)
            auto at = [&r, &svc = s, &e] { return at_endpoint(r, svc, e); };
            auto it = p.networks.find(e.network);
            if (it == p.networks.end()) {
                std::vector<std::string> names;
                for (auto& [n, _] : p.networks) names.push_back(n);
                auto hint = suggestion(e.network, names);
                auto known = network_list(p);
                r.error(at(), path(), fmt::format("unknown network \"{}\"; {}declare it under networks:{}", e.network,
                                              hint.empty() ? "" : hint + " Otherwise ",
                                              known.empty() ? "" : " or use one of: " + known));
                continue;
            }
            const Network& n = it->second;
            auto check = [&](const std::optional<IpAddr>& a, const std::optional<IpamConfig>& cfg, const char* key, int fam) {
                if (!a) return;
                if (!cfg) {
                    r.error(at(), join_path(path(), key), fmt::format("a static address needs the network {} to have an IPv{} subnet in ipam.config", e.network, fam));
                    return;
                }
                auto gw = cfg->gateway.value_or(cfg->subnet.first_host());
                if (!cfg->subnet.contains(*a))
                    r.error(at(), join_path(path(), key), fmt::format("{} is outside the network's subnet {}", a->str(), cfg->subnet.str()));
                else if (*a == gw)
                    r.error(at(), join_path(path(), key), fmt::format("{} is the network's gateway; pick another address", a->str()));
                else if (*a == cfg->subnet.network().addr || (fam == 4 && cfg->subnet.len < 31 && *a == cfg->subnet.last_host().plus(1)))
                    r.error(at(), join_path(path(), key), fmt::format("{} is the subnet's network or broadcast address", a->str()));
                else
                    for (auto& [aux, addr] : cfg->aux_addresses)
                        if (addr == *a) r.error(at(), join_path(path(), key), fmt::format("{} is reserved as aux address {}", a->str(), aux));
            };
            check(e.ipv4_address, n.ipv4, "ipv4_address", 4);
            if (!n.enable_ipv6 && std::any_of(e.link_local_ips.begin(), e.link_local_ips.end(), [](auto& ip) { return ip.is_v6(); }))
                r.error(at(), join_path(path(), "link_local_ips"),
                        fmt::format("an IPv6 link-local address needs IPv6 on the link: set enable_ipv6: true on networks.{}", e.network));
            if (e.ipv6_address && !n.enable_ipv6)
                r.error(at(), join_path(path(), "ipv6_address"), fmt::format("network {} does not have enable_ipv6: true", e.network));
            else check(e.ipv6_address, n.ipv6, "ipv6_address", 6);
        }
    }
}

void check_duplicate_addresses(Reader& r, const Project& p) {
    // Names by reference (the project outlives the check): 5,000 services' worth of copies were most of it.
    // Sorted, not a map: the same address twice on a network is found next
    // to itself, and the first taken (in service order) is the one named.
    struct Use {
        std::string_view network;
        IpAddr address;
        size_t order;  // service, endpoint and address, as written
        const Service* service;
        const Endpoint* endpoint;
    };
    std::vector<Use> uses;
    for (auto& [name, s] : p.services)
        for (auto& e : s.endpoints) {
            for (auto& a : e.link_local_ips) uses.push_back({e.network, a, uses.size(), &s, &e});
            for (auto& a : {e.ipv4_address, e.ipv6_address})
                if (a) uses.push_back({e.network, *a, uses.size(), &s, &e});
        }
    std::sort(uses.begin(), uses.end(), [](const Use& x, const Use& y) {
        return std::tie(x.network, x.address, x.order) < std::tie(y.network, y.address, y.order);
    });
    std::vector<std::pair<size_t, size_t>> twice;  // (a later use, the first), reported in the order written
    for (size_t i = 1, first = 0; i < uses.size(); ++i) {
        if (uses[i].network != uses[first].network || uses[i].address != uses[first].address) first = i;
        else twice.push_back({i, first});
    }
    std::sort(twice.begin(), twice.end(), [&](auto& x, auto& y) { return uses[x.first].order < uses[y.first].order; });
    for (auto& [i, first] : twice) {
        auto& u = uses[i];
        r.error(at_endpoint(r, *u.service, *u.endpoint), fmt::format("services.{}.networks.{}", u.service->name, u.network),
                fmt::format("{} is already the address of service {}", u.address.str(), uses[first].service->name));
    }
    // Two links with one MAC on one network: each takes the other's frames.
    std::map<std::pair<std::string_view, Mac>, std::string_view> macs;
    for (auto& [name, s] : p.services)
        for (auto& e : s.endpoints) {
            if (!e.mac_address) continue;
            auto [it, fresh] = macs.insert({{e.network, *e.mac_address}, name});
            if (fresh) continue;
            auto at = at_endpoint(r, s, e);
            r.error(at.IsMap() && at["mac_address"] ? at["mac_address"] : at,
                    fmt::format("services.{}.networks.{}.mac_address", name, e.network),
                    fmt::format("{} is already the MAC address of service {} on network {}; give each its own",
                                e.mac_address->str(), it->second, e.network));
        }
}

// Interfaces are numbered by priority (higher first), then network name.
void name_interfaces(Reader& r, Project& p) {
    for (auto& [name, s] : p.services) {
        std::stable_sort(s.endpoints.begin(), s.endpoints.end(), [](const Endpoint& a, const Endpoint& b) {
            return a.priority != b.priority ? a.priority > b.priority : a.network < b.network;
        });
        std::set<std::string> taken;
        for (auto& e : s.endpoints)
            if (!e.interface_name.empty() && !taken.insert(e.interface_name).second)
                r.error(at_endpoint(r, s, e), fmt::format("services.{}.networks.{}.interface_name", name, e.network),
                        fmt::format("interface {} is used twice in this service", e.interface_name));
        int next = 0;
        for (auto& e : s.endpoints) {
            if (!e.interface_name.empty()) continue;
            while (!taken.empty() && taken.count(fmt::format("eth{}", next))) ++next;
            e.interface_name = fmt::format("eth{}", next++);
        }
    }
}

// A service-wide mac_address goes on the endpoint that carries the default
// route; one of the endpoint's own that differs is a contradiction.
void place_service_mac(Reader& r, Project& p) {
    for (auto& [name, s] : p.services) {
        if (!s.mac_address) continue;
        auto at = node_at(r.service(name), {"mac_address"});
        auto path = fmt::format("services.{}.mac_address", name);
        if (s.mode != NetworkMode::Sandbox || s.endpoints.empty()) {
            r.error(at, path, "a mac_address needs a link of the service's own: remove network_mode, or the mac_address");
            continue;
        }
        auto& e = s.endpoints[size_t(gateway_order(s).front() - s.endpoints.data())];
        if (e.mac_address && *e.mac_address != *s.mac_address)
            r.error(at, path, fmt::format("{} goes on the link to {}, which has mac_address {} of its own; keep one of them",
                                          s.mac_address->str(), e.network, e.mac_address->str()));
        else e.mac_address = s.mac_address;
    }
}

// Links: to a service of the manifest with a sandbox of its own, over a
// network both are on (Docker's user-defined networks resolve nothing else).
void check_links(Reader& r, const Project& p) {
    for (auto& [name, s] : p.services) {
        if (s.links.empty()) continue;
        auto at = node_at(r.service(name), {"links"});
        auto path = fmt::format("services.{}.links", name);
        if (s.mode != NetworkMode::Sandbox) {
            r.error(at, path, "links name peers on the service's own networks, and it has none (network_mode); remove one of them");
            continue;
        }
        for (auto& [target, alias] : s.links) {
            auto it = p.services.find(target);
            if (it == p.services.end()) {
                r.error(at, path, fmt::format("no service named \"{}\" to link to", target));
                continue;
            }
            if (it->second.mode != NetworkMode::Sandbox) {
                r.error(at, path, fmt::format("service {} has no networks of its own (network_mode); link to the service whose sandbox it uses", target));
                continue;
            }
            bool shared = std::any_of(s.endpoints.begin(), s.endpoints.end(), [&, &t = it->second](const Endpoint& e) {
                return std::any_of(t.endpoints.begin(), t.endpoints.end(), [&](const Endpoint& o) { return o.network == e.network; });
            });
            if (!shared)
                r.error(at, path, fmt::format("{} and {} share no network, so {} could not reach it as {}; put both on one network",
                                              name, target, name, alias));
        }
    }
}

// Two networks cannot share a bridge name or a VXLAN id.
void check_kernel_names(Reader& r, const Project& p, const yaml::Node& root) {
    std::map<std::string, std::string> names;
    std::map<uint32_t, std::string> vnis;
    for (auto& [name, n] : p.networks) {
        if (!n.kernel_name.empty()) {
            auto [it, fresh] = names.insert({n.kernel_name, name});
            if (!fresh)
                r.error(node_at(root, {"networks", name}), "networks." + name,
                        fmt::format("bridge name {} is also used by network {}; give each network its own", n.kernel_name, it->second));
        }
        if (n.driver == Driver::Overlay && n.vxlan_id) {
            auto [it, fresh] = vnis.insert({*n.vxlan_id, name});
            if (!fresh)
                r.error(node_at(root, {"networks", name}), "networks." + name,
                        fmt::format("vxlan_id {} is also used by network {}; give each overlay its own", *n.vxlan_id, it->second));
        }
    }
}

void check_overlaps(Reader& r, const Project& p, const yaml::Node& root) {
    std::vector<std::pair<std::string, Prefix>> subnets;
    for (auto& [name, n] : p.networks)
        for (auto& c : {n.ipv4, n.ipv6})
            if (c) {
                for (auto& [other, sub] : subnets)
                    if (sub.overlaps(c->subnet))
                        r.error(node_at(root, {"networks", name}), "networks." + name,
                                fmt::format("subnet {} overlaps network {} ({}); give each network its own subnet", c->subnet.str(), other, sub.str()));
                subnets.push_back({name, c->subnet});
            }
}

bool same_host_ip(const Port& a, const Port& b) {
    if (!a.host_ip || !b.host_ip) return true;  // unset = every address
    return *a.host_ip == *b.host_ip;
}

// The published ports seen so far, by protocol and first port, to find the
// ones a new range overlaps without comparing it with every other (10,000
// services made that pairwise check a tenth of a plan's time).
class Published {
public:
    // The first earlier port whose range overlaps `port`'s on the same host address.
    const std::pair<std::string, const Port*>* overlap(const Port& port) const {
        auto proto = int(port.protocol);
        auto span = longest_.count(proto) ? longest_.at(proto) : 0;
        int from = std::max(0, int(port.published->first) - span);
        for (auto it = by_start_.lower_bound({proto, from});
             it != by_start_.end() && it->first <= std::pair{proto, int(port.published->last)}; ++it)
            for (auto& q : it->second)
                if (q.second->published->last >= port.published->first && same_host_ip(*q.second, port)) return &q;
        return nullptr;
    }
    void add(const std::string& service, const Port& port) {
        auto proto = int(port.protocol);
        by_start_[{proto, int(port.published->first)}].push_back({service, &port});
        auto& span = longest_[proto];
        span = std::max(span, int(port.published->last) - int(port.published->first));
    }

private:
    std::map<std::pair<int, int>, std::vector<std::pair<std::string, const Port*>>> by_start_;
    std::map<int, int> longest_;  // per protocol: the widest range's span
};

void check_ports(Reader& r, const Project& p) {
    Published all;
    for (auto& [name, s] : p.services) {
        if (s.ports.empty()) continue;
        auto node = node_at(r.service(name), {"ports"});
        if (s.mode == NetworkMode::Sandbox) {
            bool outside = std::any_of(s.endpoints.begin(), s.endpoints.end(), [&](const Endpoint& e) {
                auto it = p.networks.find(e.network);
                return it != p.networks.end() && !it->second.internal;
            });
            // Compose accepts this (the ports go nowhere): a warning, not a refusal.
            if (!outside)
                r.warn(node, "services." + name + ".ports",
                       fmt::format("service {} is only on internal networks, so its published ports go nowhere and "
                                   "nothing is published; add a network that is not internal to publish them",
                                   name));
        }
        if (s.mode == NetworkMode::None)
            r.error(node, "services." + name + ".ports", "ports are not allowed with network_mode: none");
        for (size_t i = 0; i < s.ports.size(); ++i) {
            const Port& port = s.ports[i];
            if (!port.published) continue;
            if (auto* q = all.overlap(port))
                r.error(node.IsSequence() ? node[i] : node, fmt::format("services.{}.ports[{}]", name, i),
                        fmt::format("host port {}/{} is already published by service {}", port.published->first,
                                    to_string(port.protocol), q->first));
            all.add(name, port);
        }
    }
}

// Why ::1 is refused: IPv6 has no route_localnet. A reply DNATed back to ::1
// arrives on the bridge, and the kernel looks up loopback destinations only
// on the interface a packet came in on (rt6_need_strict), so it is dropped.
constexpr const char* no_v6_loopback =
    "::1 cannot be published: IPv6 has no route_localnet, so the kernel drops replies DNATed back to ::1; "
    "use 127.0.0.1 to publish on the host only, or an IPv6 address of the host";

// IPv6 host addresses: not ::1, and only towards a network with IPv6.
void check_host_addresses(Reader& r, const Project& p, const yaml::Node& root) {
    for (auto& [name, n] : p.networks) {
        if (!n.host_binding_ipv4 || !n.host_binding_ipv4->is_v6()) continue;
        auto key = "com.docker.network.bridge.host_binding_ipv4";
        auto at = node_at(root, {"networks", name, "driver_opts", key});
        auto path = fmt::format("networks.{}.driver_opts.{}", name, key);
        if (n.host_binding_ipv4->is_loopback()) r.error(at, path, no_v6_loopback);
        else if (!n.enable_ipv6)
            r.error(at, path, fmt::format("the IPv6 address {} needs IPv6 on this network; set enable_ipv6: true on networks.{}",
                                          n.host_binding_ipv4->str(), name));
    }
    for (auto& [name, s] : p.services) {
        if (s.ports.empty() || s.mode != NetworkMode::Sandbox) continue;
        auto* e = port_target(p, s);  // name_interfaces has put the endpoints in interface order
        const Network* target = e ? &p.networks.at(e->network) : nullptr;
        yaml::Node node;  // found when a port needs it: a lookup by name per service is most of this check
        for (size_t i = 0; i < s.ports.size(); ++i) {
            const auto& ip = s.ports[i].host_ip;
            if (!ip || !ip->is_v6() || !target) continue;
            if (!node) node = node_at(r.service(name), {"ports"});
            auto item = node.IsSequence() ? node[i] : node;
            bool long_form = item.IsMap() && item["host_ip"];
            auto at = long_form ? item["host_ip"] : item;
            auto path = fmt::format("services.{}.ports[{}]{}", name, i, long_form ? ".host_ip" : "");
            if (ip->is_loopback()) r.error(at, path, std::string("host_ip ") + no_v6_loopback);
            else if (!target->enable_ipv6)
                r.error(at, path, fmt::format("IPv6 host_ip {} needs an IPv6 address on network {}, where the port forwards to; "
                                              "set enable_ipv6: true on networks.{}", ip->str(), target->name, target->name));
        }
    }
}

void check_modes_and_hosts(Reader& r, const Project& p) {
    for (auto& [name, s] : p.services) {
        auto node = [&r, &svc = name] { return r.service(svc); };  // where an error is said, only
        if (s.mode == NetworkMode::Service) {
            auto it = p.services.find(s.mode_service);
            if (it == p.services.end())
                r.error(node_at(node(), {"network_mode"}), "services." + name + ".network_mode", fmt::format("no service named \"{}\"", s.mode_service));
            else if (!it->second.has_sandbox())
                r.error(node_at(node(), {"network_mode"}), "services." + name + ".network_mode",
                        fmt::format("service {} has no sandbox of its own to share", s.mode_service));
        }
        if (!s.host.empty() && !p.hosts.count(s.host))
            r.error(node_at(node(), {"host"}), "services." + name + ".host", fmt::format("no host named \"{}\" under hosts:", s.host));
        if (s.host.empty() && p.hosts.size() > 1 && s.has_sandbox())
            r.error(node(), "services." + name, "the manifest has several hosts: say which one runs this service with host:");
    }
}

}  // namespace

bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 64 || s.find("..") != std::string::npos) return false;
    if (!std::isalnum(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](unsigned char c) {
        return c < 0x80 && (std::isalnum(c) || c == '_' || c == '.' || c == '-');
    });
}

// A bridge is local to one host: a bridge network whose services run on two
// hosts would be two networks with one subnet, each missing the other's
// members. (An overlay spans hosts; macvlan and external networks are each
// host's own attachment to a LAN both hosts share.)
void check_local_networks(Reader& r, const Project& p, const yaml::Node& root) {
    if (p.hosts.size() < 2) return;
    for (auto& [name, n] : p.networks) {
        if (n.driver != Driver::Bridge || n.external) continue;
        std::set<std::string> hosts;
        for (auto& [_, s] : p.services)
            for (auto& e : s.endpoints)
                if (e.network == name && s.has_sandbox() && !s.host.empty()) hosts.insert(s.host);
        if (hosts.size() > 1)
            r.error(node_at(root, {"networks", name}), "networks." + name,
                    fmt::format("a bridge network is local to one host, but services on hosts {} use it: make it an "
                                "overlay (driver: overlay), or run its services on one host",
                                fmt::join(hosts, " and ")));
    }
}

bool meets_others(const Project& others, const Project& q, const std::set<std::string>& fresh,
                  const std::set<std::string>& touched) {
    // What the fresh entries hold that another may not hold too.
    std::vector<std::pair<std::string_view, IpAddr>> addresses;
    std::vector<std::pair<std::string_view, Mac>> macs;
    std::map<std::string_view, std::string_view> local;  // a bridge network's host, per the fresh entries
    Published ports;
    for (auto& name : fresh) {
        auto& s = q.services.at(name);
        for (auto& e : s.endpoints) {
            for (auto& a : e.link_local_ips) addresses.emplace_back(e.network, a);
            for (auto& a : {e.ipv4_address, e.ipv6_address})
                if (a) addresses.emplace_back(e.network, *a);
            if (e.mac_address) macs.emplace_back(e.network, *e.mac_address);
            auto n = q.networks.find(e.network);
            if (q.hosts.size() > 1 && n != q.networks.end() && n->second.driver == Driver::Bridge && !n->second.external &&
                s.has_sandbox() && !s.host.empty())
                local.emplace(e.network, s.host);  // two different ones: validate(q) said so
        }
        for (auto& port : s.ports)
            if (port.published) ports.add(name, port);
    }
    auto has = [](auto& list, std::string_view network, const auto& value) {
        return std::find(list.begin(), list.end(), std::pair{network, value}) != list.end();
    };
    for (auto& [name, s] : others.services) {
        if (s.mode == NetworkMode::Service && touched.count(s.mode_service)) return true;
        for (auto& [target, _] : s.links)
            if (touched.count(target)) return true;
        for (auto& e : s.endpoints) {
            for (auto& a : e.link_local_ips)
                if (has(addresses, e.network, a)) return true;
            for (auto& a : {e.ipv4_address, e.ipv6_address})
                if (a && has(addresses, e.network, *a)) return true;
            if (e.mac_address && has(macs, e.network, *e.mac_address)) return true;
            if (auto it = local.find(e.network); it != local.end() && s.has_sandbox() && !s.host.empty() && s.host != it->second)
                return true;
        }
        for (auto& port : s.ports)
            if (port.published && ports.overlap(port)) return true;
    }
    return false;
}

void validate(Reader& r, Project& p, const yaml::Node& root) {
    check_endpoints(r, p);
    name_interfaces(r, p);
    place_service_mac(r, p);
    check_duplicate_addresses(r, p);
    check_links(r, p);
    check_replicas(r, p);
    check_overlaps(r, p, root);
    check_kernel_names(r, p, root);
    check_ports(r, p);
    check_host_addresses(r, p, root);
    check_modes_and_hosts(r, p);
    check_local_networks(r, p, root);
}

}  // namespace topo::manifest
