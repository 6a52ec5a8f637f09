#include "reconcile/firewall.hpp"

#include <fmt/format.h>

#include "model/naming.hpp"
#include "reconcile/desired.hpp"

namespace topo {

namespace {

struct Builder {
    const Project& p;
    const Addressing& a;
    const std::string& host;
    Firewall out;
    NftTable t;

    void rule(const std::string& chain, NftOp op, std::string text, std::string ifname = "",
              std::optional<Prefix> subnet = std::nullopt, std::string set = "", int family = 4) {
        t.rules.push_back({chain, std::move(text), op, family, std::move(ifname), subnet, std::move(set)});
    }

    // The network a published port forwards to: the service's first non-internal one.
    const Endpoint* target(const Service& s) {
        for (auto& e : s.endpoints)
            if (!p.networks.at(e.network).internal) return &e;
        return nullptr;
    }

    void ports(std::set<std::string>& dnat_bridges) {
        auto& any = t.sets["ports"];
        any = {"ports", NftLayout::ProtoPortToAddr, {}};
        auto& bound = t.sets["hostports"];
        bound = {"hostports", NftLayout::AddrProtoPortToAddr, {}};
        for (auto& [_, s] : p.services) {
            if (s.ports.empty() || !runs_here(p, s, host)) continue;
            auto* e = target(s);
            auto* ea = e ? a.endpoint(s.name, e->network) : nullptr;
            if (!ea || !ea->v4) continue;  // validation guarantees a target; v6-only has no v4 DNAT
            const Network& n = p.networks.at(e->network);
            dnat_bridges.insert(bridge_name(p, n));
            for (auto& port : s.ports) {
                auto host_ip = port.host_ip ? port.host_ip : n.host_binding_ipv4;
                if (host_ip && host_ip->is_v6()) {
                    out.unsupported.push_back(fmt::format(
                        "services.{}.ports: IPv6 host_ip {} is not implemented yet", s.name, host_ip->str()));
                    continue;
                }
                if (host_ip && host_ip->v4_value() == 0) host_ip.reset();  // 0.0.0.0: every address
                PortRange pub = port.published.value_or(PortRange{});
                if (!port.published) {
                    auto it = a.ephemeral_ports.find(ephemeral_port_key(s.name, port));
                    if (it == a.ephemeral_ports.end()) continue;
                    pub = {it->second, it->second};
                }
                for (uint16_t i = 0; i < pub.count(); ++i) {
                    auto el = fmt::format("{} {} {} {}", to_string(port.protocol), pub.first + i, ea->v4->str(),
                                          port.target.first + i);
                    if (host_ip) bound.elements.insert(host_ip->str() + " " + el);
                    else any.elements.insert(el);
                }
            }
        }
    }

    void dnat_rules() {
        for (auto* chain : {"prerouting", "output"}) {
            rule(chain, NftOp::DnatHostPorts, "dnat ip to ip daddr . meta l4proto . th dport map @hostports", "",
                 std::nullopt, "hostports");
            rule(chain, NftOp::DnatPorts, "fib daddr type local dnat ip to meta l4proto . th dport map @ports", "",
                 std::nullopt, "ports");
        }
    }

    void forward(const std::vector<const Network*>& bridges) {
        auto& set = t.sets["bridges"];
        set = {"bridges", NftLayout::Ifnames, {}};
        for (auto* n : bridges) set.elements.insert(bridge_name(p, *n));
        rule("forward", NftOp::AcceptEstablished, "ct state established,related accept");
        rule("forward", NftOp::AcceptDnat, "ct status dnat accept");
        // With br_netfilter loaded (common on Docker hosts), frames bridged within one
        // network pass this hook too, with the bridge as both in and out interface.
        for (auto* n : bridges) {
            auto name = bridge_name(p, *n);
            if (!n->enable_icc) {
                out.unsupported.push_back(fmt::format(
                    "networks.{}: enable_icc: false is not implemented yet", n->name));
                continue;
            }
            rule("forward", NftOp::AcceptWithin, fmt::format("iifname {0} oifname {0} accept (within network {1})", name, n->name), name);
        }
        // Between topo's bridges — this project's and, through the name prefix, every project's.
        rule("forward", NftOp::DropFromSetToPrefix, "iifname @bridges oifname tb* drop (isolation)", "tb*",
             std::nullopt, "bridges");
        rule("forward", NftOp::DropFromPrefixToSet, "iifname tb* oifname @bridges drop (isolation)", "tb*",
             std::nullopt, "bridges");
        for (auto* n : bridges) {
            auto name = bridge_name(p, *n);
            if (!name.starts_with("tb")) {  // a bridge named by the user: isolate it by name
                rule("forward", NftOp::DropFromSetToPrefix, fmt::format("iifname @bridges oifname {} drop (isolation)", name), name, std::nullopt, "bridges");
                rule("forward", NftOp::DropFromPrefixToSet, fmt::format("iifname {} oifname @bridges drop (isolation)", name), name, std::nullopt, "bridges");
            }
            if (n->internal) {
                rule("forward", NftOp::DropIn, fmt::format("iifname {} drop (network {} is internal)", name, n->name), name);
                rule("forward", NftOp::DropOut, fmt::format("oifname {} drop (network {} is internal)", name, n->name), name);
            }
        }
    }

    void postrouting(const std::vector<const Network*>& bridges, const std::set<std::string>& dnat_bridges) {
        for (auto* n : bridges) {
            if (n->internal || !n->enable_masquerade) continue;
            auto name = bridge_name(p, *n);
            const auto& na = a.networks.at(n->name);
            if (na.subnet4)
                rule("postrouting", NftOp::Masquerade, fmt::format("ip saddr {} oifname != {} masquerade", na.subnet4->str(), name), name, na.subnet4);
            if (na.subnet6)
                rule("postrouting", NftOp::Masquerade, fmt::format("ip6 saddr {} oifname != {} masquerade", na.subnet6->str(), name), name, na.subnet6, "", 6);
        }
        if (dnat_bridges.empty()) return;
        rule("postrouting", NftOp::MasqueradeLoopback, "ip saddr 127.0.0.0/8 ct status dnat masquerade");
        for (auto* n : bridges) {
            auto name = bridge_name(p, *n);
            const auto& na = a.networks.at(n->name);
            if (dnat_bridges.count(name) && na.subnet4)
                rule("postrouting", NftOp::MasqueradeHairpin,
                     fmt::format("oifname {} ip saddr {} ct status dnat masquerade (hairpin)", name, na.subnet4->str()), name, na.subnet4);
        }
    }
};

}  // namespace

Firewall firewall(const Project& p, const Addressing& a, const std::string& host) {
    Builder b{p, a, host, {}, {}};
    std::vector<const Network*> bridges;
    bool v6 = false;
    for (auto& [_, n] : p.networks) {
        if (n.driver != Driver::Bridge || n.external) continue;
        bridges.push_back(&n);
        v6 |= a.networks.at(n.name).subnet6.has_value();
    }
    if (bridges.empty()) return std::move(b.out);
    b.t.name = naming::nft_table(p.name);
    b.t.chains = {{"forward", "filter", "forward", 0},
                  {"output", "nat", "output", -100},
                  {"postrouting", "nat", "postrouting", 100},
                  {"prerouting", "nat", "prerouting", -100}};
    std::set<std::string> dnat_bridges;
    b.ports(dnat_bridges);
    b.dnat_rules();
    b.forward(bridges);
    b.postrouting(bridges, dnat_bridges);
    b.out.table = std::move(b.t);
    // Forwarding on only after the rules above are in place (plan.hpp orders sysctls last).
    b.out.sysctls.push_back({"", "net/ipv4/ip_forward", "1"});
    if (v6) b.out.sysctls.push_back({"", "net/ipv6/conf/all/forwarding", "1"});
    for (auto& br : dnat_bridges) b.out.sysctls.push_back({"", fmt::format("net/ipv4/conf/{}/route_localnet", br), "1"});
    return std::move(b.out);
}

}  // namespace topo
