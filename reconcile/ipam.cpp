// IPAM (see ipam.hpp for the rules). Networks are handled in name order and
// endpoints in service order, so the same input always gives the same result.
// Dynamic allocation keeps a cursor per network: within one run the taken set
// only grows, so "lowest free" never needs to look behind the cursor and a
// 10,000-endpoint project is allocated in linear time.
#include "reconcile/ipam.hpp"

#include <fmt/format.h>

#include <set>

#include "model/naming.hpp"

namespace topo {

namespace {

// Docker's default pools: 172.17-31.0.0/16, then 192.168.0-240.0/20.
std::vector<Prefix> default_pools_v4() {
    std::vector<Prefix> pools;
    for (uint32_t b = 17; b <= 31; ++b) pools.push_back({IpAddr::v4((172u << 24) | (b << 16)), 16});
    for (uint32_t c = 0; c <= 240; c += 16)
        pools.push_back({IpAddr::v4((192u << 24) | (168u << 16) | (c << 8)), 20});
    return pools;
}

// ULA /64s derived from the project and network, so they are stable and rarely collide.
Prefix ula_candidate(const std::string& project, const std::string& network, uint32_t attempt) {
    uint64_t h = naming::hash(fmt::format("{}/{}/{}", project, network, attempt));
    IpAddr a;
    a.family = 6;
    a.bytes[0] = 0xfd;
    for (int i = 1; i < 8; ++i) a.bytes[i] = uint8_t(h >> (8 * (i - 1)));
    return {a, 64};
}

bool overlaps_any(const Prefix& p, const std::vector<Prefix>& taken) {
    for (auto& t : taken)
        if (t.overlaps(p)) return true;
    return false;
}

struct Allocator {
    const IpamInput& in;
    IpamResult& out;
    std::vector<Prefix> taken;  // subnets in use: this project's explicit ones, others', routes

    // Left as the state file has it: a sandbox a targeted apply does not touch.
    bool pinned(const std::string& service) const { return !in.only.empty() && !in.only.count(service); }

    void error(std::string path, std::string message) {
        out.errors.push_back({std::move(path), std::move(message)});
    }

    std::optional<Prefix> previous_subnet(const std::string& net, int family) const {
        auto it = in.previous.networks.find(net);
        if (it == in.previous.networks.end()) return std::nullopt;
        return family == 4 ? it->second.subnet4 : it->second.subnet6;
    }

    std::optional<Prefix> pick_subnet(const Network& n, int family) {
        if (auto prev = previous_subnet(n.name, family); prev && !overlaps_any(*prev, taken))
            return prev;
        if (family == 4) {
            for (auto& p : default_pools_v4())
                if (!overlaps_any(p, taken)) return p;
        } else {
            for (uint32_t i = 0; i < 64; ++i)
                if (auto p = ula_candidate(in.project->name, n.name, i); !overlaps_any(p, taken))
                    return p;
        }
        error("networks." + n.name,
              fmt::format("no free IPv{} subnet left in the default pools; set ipam.config "
                          "with a subnet",
                          family));
        return std::nullopt;
    }

    // A subnet the manifest gives that the host routes already (its LAN, a
    // VPN) or that another project uses: the bridge's prefix route would
    // compete with that route, and the host would lose the way to one side.
    // Docker checks only the subnets it picks itself; topo checks these too.
    void check_explicit(const Network& n, const IpamConfig& c) {
        auto clash = [&](const std::vector<Prefix>& in_use, const char* what) {
            for (auto& t : in_use)
                if (t.overlaps(c.subnet)) {
                    error(located(c.mark, c.path.empty() ? "networks." + n.name : c.path),
                          fmt::format("subnet {} overlaps {}, {}; sandboxes would take addresses the host reaches "
                                      "elsewhere: choose another subnet",
                                      c.subnet.str(), t.str(), what));
                    return true;
                }
            return false;
        };
        if (!clash(in.host_routes, "a route of this host")) clash(in.other_subnets, "a subnet of another topo project");
    }

    void subnets() {
        taken = in.host_routes;
        taken.insert(taken.end(), in.other_subnets.begin(), in.other_subnets.end());
        for (auto& [name, n] : in.project->networks) {
            // An external bridge's subnet is the host's by definition, and a
            // macvlan network's is usually its parent's LAN.
            if (n.external || n.driver == Driver::Macvlan) continue;
            if (n.ipv4) check_explicit(n, *n.ipv4);
            if (n.ipv6) check_explicit(n, *n.ipv6);
        }
        for (auto& [name, n] : in.project->networks) {
            if (n.ipv4) taken.push_back(n.ipv4->subnet);
            if (n.ipv6) taken.push_back(n.ipv6->subnet);
        }
        for (auto& [name, n] : in.project->networks) {
            auto& na = out.addressing.networks[name];
            auto ext = n.external ? in.external.find(name) : in.external.end();
            if (n.ipv4) {
                na.subnet4 = n.ipv4->subnet.network();
                na.gateway4 = n.ipv4->gateway.value_or(na.subnet4->first_host());
            } else if (ext != in.external.end()) {
                na.subnet4 = ext->second.subnet4;
                na.gateway4 = ext->second.gateway4;
                if (!na.subnet4)
                    error("networks." + name,
                          fmt::format("the external bridge {} has no IPv4 address to take a subnet from; give the "
                                      "network ipam.config with the subnet its sandboxes should use",
                                      n.kernel_name));
            } else if (!n.external) {
                if ((na.subnet4 = pick_subnet(n, 4))) {
                    taken.push_back(*na.subnet4);
                    na.gateway4 = na.subnet4->first_host();
                }
            }
            if (n.ipv6) {
                na.subnet6 = n.ipv6->subnet.network();
                na.gateway6 = n.ipv6->gateway.value_or(na.subnet6->first_host());
            } else if (n.enable_ipv6 && ext != in.external.end()) {
                na.subnet6 = ext->second.subnet6;
                na.gateway6 = ext->second.gateway6;
            } else if (n.enable_ipv6 && !n.external) {
                if ((na.subnet6 = pick_subnet(n, 6))) {
                    taken.push_back(*na.subnet6);
                    na.gateway6 = na.subnet6->first_host();
                }
            }
        }
    }

    struct Pool {
        Prefix subnet;
        IpAddr first, last;    // dynamic range, inclusive
        std::set<IpAddr> used;  // gateway, aux, static and kept addresses
        IpAddr cursor;
        // Where an address may stay: in the subnet and the dynamic range.
        bool in_range(const IpAddr& a) const { return subnet.contains(a) && !(a < first) && !(last < a); }
    };

    // An endpoint's MAC: the manifest's, else derived from its IPv4 address.
    static void set_mac(const Endpoint& e, EndpointAddressing& ea) {
        if (e.mac_address) ea.mac = e.mac_address;
        else if (ea.v4) ea.mac = Mac::from_ipv4(*ea.v4);
    }

    // The pool's dynamic range, and its fixed addresses: the gateway and the aux ones.
    static Pool bounds(const Network& n, const NetAddressing& na, int family) {
        const auto& cfg = family == 4 ? n.ipv4 : n.ipv6;
        Pool p;
        p.subnet = family == 4 ? *na.subnet4 : *na.subnet6;
        p.first = p.subnet.first_host();
        p.last = p.subnet.last_host();
        if (cfg && cfg->ip_range) {
            auto r = cfg->ip_range->network();
            Prefix whole{r.addr, r.len};
            if (r.addr > p.first) p.first = r.addr;
            IpAddr rlast = whole.last_host();
            if (family == 4 && r.len < 31) rlast = rlast.plus(1);  // the range's own last address is usable
            if (rlast < p.last) p.last = rlast;
        }
        if (auto gw = family == 4 ? na.gateway4 : na.gateway6) p.used.insert(*gw);
        if (cfg)
            for (auto& [_, a] : cfg->aux_addresses) p.used.insert(a);
        p.cursor = p.first;
        return p;
    }

    Pool make_pool(const Network& n, const NetAddressing& na, int family) {
        Pool p = bounds(n, na, family);
        if (auto ext = in.external.find(n.name); ext != in.external.end())
            p.used.insert(ext->second.used.begin(), ext->second.used.end());
        for (auto& [_, s] : in.project->services)
            for (auto& e : s.endpoints)
                if (e.network == n.name) {
                    auto& st = family == 4 ? e.ipv4_address : e.ipv6_address;
                    if (st) p.used.insert(*st);
                }
        for (auto& [key, e] : in.previous.endpoints)
            if (key.second == n.name && pinned(key.first))
                if (auto& a = family == 4 ? e.v4 : e.v6) p.used.insert(*a);
        p.cursor = p.first;
        return p;
    }

    std::optional<IpAddr> previous_address(const std::string& svc, const std::string& net,
                                           int family) const {
        auto it = in.previous.endpoints.find({svc, net});
        if (it == in.previous.endpoints.end()) return std::nullopt;
        return family == 4 ? it->second.v4 : it->second.v6;
    }

    std::optional<IpAddr> next_free(Pool& p) {
        while (p.cursor <= p.last && p.cursor.family) {
            IpAddr a = p.cursor;
            p.cursor = p.cursor.plus(1);
            if (p.cursor < a) p.cursor.family = 0;  // wrapped: range exhausted
            if (!p.used.count(a)) return a;
        }
        return std::nullopt;
    }

    void endpoints_of(const Network& n, int family) {
        const auto& na = out.addressing.networks[n.name];
        if (!(family == 4 ? na.subnet4 : na.subnet6)) return;
        Pool pool = make_pool(n, na, family);
        std::vector<std::pair<std::string, std::string>> dynamic;  // key, and the path an error names
        for (auto& [_, s] : in.project->services) {
            for (auto& e : s.endpoints) {
                if (e.network != n.name) continue;
                auto& ea = out.addressing.endpoints[{s.name, n.name}];
                auto& slot = family == 4 ? ea.v4 : ea.v6;
                if (auto st = family == 4 ? e.ipv4_address : e.ipv6_address) {
                    slot = st;
                    continue;
                }
                if (!kept(pool, s.name, n.name, family, slot)) dynamic.push_back({s.name, "services." + s.name + ".networks." + n.name});
            }
        }
        // The host's own link on a macvlan network: an address of the pool
        // like a sandbox's, after theirs.
        if (n.host_access && family == 4) {
            auto& slot = out.addressing.endpoints[{host_access_key, n.name}].v4;
            if (!kept(pool, host_access_key, n.name, family, slot))
                dynamic.push_back({host_access_key, "networks." + n.name + ".driver_opts.host_access"});
        }
        for (auto& [key, path] : dynamic) {
            auto& slot = family == 4 ? out.addressing.endpoints[{key, n.name}].v4
                                     : out.addressing.endpoints[{key, n.name}].v6;
            if ((slot = next_free(pool))) continue;
            error(path, fmt::format("no free IPv{} address left in {} for this endpoint; widen "
                                    "ip_range or the subnet",
                                    family, pool.subnet.str()));
        }
    }

    // Keeps what the endpoint had while it is still valid: true when it did.
    bool kept(Pool& pool, const std::string& key, const std::string& network, int family, std::optional<IpAddr>& slot) {
        auto prev = previous_address(key, network, family);
        if (prev && pinned(key) && pool.subnet.contains(*prev)) {
            slot = prev;  // already in pool.used
            return true;
        }
        if (prev && pool.in_range(*prev) &&
            !pool.used.count(*prev)) {
            slot = prev;
            pool.used.insert(*prev);
            return true;
        }
        return false;
    }

    void endpoints() {
        for (auto& [_, n] : in.project->networks) {
            endpoints_of(n, 4);
            endpoints_of(n, 6);
        }
        for (auto& [_, s] : in.project->services)
            for (auto& e : s.endpoints) {
                auto& ea = out.addressing.endpoints[{s.name, e.network}];
                ea.ifname = e.interface_name;
                Allocator::set_mac(e, ea);
            }
        for (auto& [key, e] : in.previous.endpoints)
            if (pinned(key.first) && !in.project->services.count(key.first)) out.addressing.endpoints[key] = e;
    }

    void ports() {
        std::set<uint16_t> used(in.used_ports.begin(), in.used_ports.end());
        for (auto& [key, port] : in.previous.ephemeral_ports)
            if (auto svc = key.substr(0, key.find('/')); pinned(svc) && !in.project->services.count(svc)) {
                out.addressing.ephemeral_ports[key] = port;
                used.insert(port);
            }
        for (auto& [_, s] : in.project->services)
            for (auto& p : s.ports)
                if (p.published)
                    for (uint32_t v = p.published->first; v <= p.published->last; ++v)
                        used.insert(uint16_t(v));
        std::vector<std::string> fresh;
        for (auto& [_, s] : in.project->services)
            for (auto& p : s.ports) {
                if (p.published) continue;
                auto key = ephemeral_port_key(s.name, p);
                auto prev = in.previous.ephemeral_ports.find(key);
                if (prev != in.previous.ephemeral_ports.end() && !used.count(prev->second)) {
                    out.addressing.ephemeral_ports[key] = prev->second;
                    used.insert(prev->second);
                } else {
                    fresh.push_back(key);
                }
            }
        uint32_t next = 49153;
        for (auto& key : fresh) {
            while (next <= 65535 && used.count(uint16_t(next))) ++next;
            if (next > 65535) {
                error("services", "no free ephemeral host port left in 49153-65535");
                return;
            }
            out.addressing.ephemeral_ports[key] = uint16_t(next);
            used.insert(uint16_t(next++));
        }
    }
};

}  // namespace

IpamResult allocate(const IpamInput& in) {
    IpamResult out;
    Allocator a{in, out, {}};
    a.subnets();
    a.endpoints();
    a.ports();
    return out;
}

std::optional<IpamSince> allocate_since(const IpamInput& in, Addressing& last, const std::set<std::string>& touched,
                                        const Project& was) {
    const Project& p = *in.project;
    if (!in.only.empty() || !in.external.empty() || was.networks != p.networks) return std::nullopt;
    for (auto& [_, n] : p.networks)
        if (n.external) return std::nullopt;
    // Ephemeral host ports stay as they are: none of the touched services has
    // one, nor publishes a port that one holds, nor holds one another project took.
    std::set<uint16_t> ephemeral;
    for (auto& [_, port] : last.ephemeral_ports) ephemeral.insert(port);
    for (auto port : in.used_ports)
        if (ephemeral.count(port)) return std::nullopt;
    for (auto* project : {&was, &p})
        for (auto& name : touched)
            if (auto s = project->services.find(name); s != project->services.end())
                for (auto& port : s->second.ports) {
                    if (!port.published) return std::nullopt;
                    for (uint32_t v = port.published->first; v <= port.published->last; ++v)
                        if (ephemeral.count(uint16_t(v))) return std::nullopt;
                }
    IpamSince out;
    Allocator al{in, out.result, {}};
    al.subnets();
    if (!out.result.errors.empty() || out.result.addressing.networks != last.networks) return std::nullopt;

    // Each touched endpoint's address, per network and family: what it must
    // be (static), may stay (its last), or needs (a free one).
    struct Want {
        std::pair<std::string, std::string> key;
        int family;
        std::optional<IpAddr> fixed, prev;
        Allocator::Pool pool;  // its bounds and fixed addresses
        std::optional<IpAddr>& slot(std::map<std::pair<std::string, std::string>, EndpointAddressing>& m) const {
            return family == 4 ? m[key].v4 : m[key].v6;
        }
    };
    std::vector<Want> wants;
    std::map<std::pair<std::string, std::string>, EndpointAddressing> fresh;
    for (auto& name : touched) {
        auto s = p.services.find(name);
        if (s == p.services.end()) continue;
        for (auto& e : s->second.endpoints) {
            std::pair<std::string, std::string> key{name, e.network};
            fresh[key].ifname = e.interface_name;
            auto* prev = last.endpoint(name, e.network);
            auto& na = last.networks.at(e.network);
            for (int family : {4, 6})
                if (family == 4 ? na.subnet4 : na.subnet6)
                    wants.push_back({key, family, family == 4 ? e.ipv4_address : e.ipv6_address,
                                     prev ? (family == 4 ? prev->v4 : prev->v6) : std::nullopt,
                                     Allocator::bounds(p.networks.at(e.network), na, family)});
        }
    }
    // The addresses of a network's other endpoints, made only when a touched
    // endpoint needs one that was not its own (a walk of every endpoint).
    std::map<std::pair<std::string, int>, std::set<IpAddr>> others;
    auto others_in = [&](const std::string& network, int family) -> const std::set<IpAddr>& {
        auto [it, made] = others.try_emplace({network, family});
        if (made)
            for (auto& [key, ea] : last.endpoints)
                if (key.second == network && !touched.count(key.first))
                    if (auto& a = family == 4 ? ea.v4 : ea.v6) it->second.insert(*a);
        return it->second;
    };
    // As allocate(): the static addresses first, then those kept in service
    // order, then the rest, lowest free first. What the touched ones take:
    std::set<std::pair<std::string, IpAddr>> assigned;  // by network
    auto free_for = [&](const Want& w, const IpAddr& a, bool own) {
        return !w.pool.used.count(a) && !assigned.count({w.key.second, a}) &&
               (own || !others_in(w.key.second, w.family).count(a));
    };
    for (auto& w : wants)
        if (w.fixed) {
            // Its own before, or another endpoint's, which allocate() would renumber.
            if (!free_for(w, *w.fixed, w.fixed == w.prev)) return std::nullopt;
            w.slot(fresh) = w.fixed;
            assigned.insert({w.key.second, *w.fixed});
        }
    std::vector<const Want*> need;
    for (auto& w : wants) {
        if (w.fixed) continue;
        auto& pool = w.pool;
        if (w.prev && pool.in_range(*w.prev) &&
            free_for(w, *w.prev, true)) {
            w.slot(fresh) = w.prev;
            assigned.insert({w.key.second, *w.prev});
        } else {
            need.push_back(&w);
        }
    }
    for (auto* w : need) {
        std::optional<IpAddr> got;
        for (IpAddr a = w->pool.first; !(w->pool.last < a); a = a.plus(1)) {
            if (free_for(*w, a, false)) {
                got = a;
                break;
            }
            if (a.plus(1) < a) break;  // wrapped
        }
        if (!got) return std::nullopt;  // exhausted: allocate() says so
        w->slot(fresh) = got;
        assigned.insert({w->key.second, *got});
    }
    for (auto& [key, ea] : fresh) {
        auto s = p.services.find(key.first);
        for (auto& e : s->second.endpoints)
            if (e.network == key.second) Allocator::set_mac(e, ea);
    }
    // `last` becomes the result: the touched services' endpoints swapped.
    for (auto& name : touched)
        for (auto it = last.endpoints.lower_bound({name, ""}); it != last.endpoints.end() && it->first.first == name;)
            out.before.endpoints.insert(last.endpoints.extract(it++));
    out.same = out.before.endpoints == fresh;
    out.before.networks = last.networks;
    // The host's own endpoints (host_access): the touched services' routes
    // through the shim are made from them.
    for (auto it = last.endpoints.lower_bound({host_access_key, ""});
         it != last.endpoints.end() && it->first.first == host_access_key; ++it)
        out.before.endpoints.insert(*it);
    for (auto& [key, ea] : fresh) last.endpoints.emplace(key, ea);
    out.result.addressing = std::move(last);
    return out;
}

}  // namespace topo
