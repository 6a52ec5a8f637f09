// The project's nftables table built from the manifest (reconcile/firewall.hpp):
// published ports, isolation, masquerade.
#include "reconcile/firewall.hpp"

#include <fmt/format.h>

#include "model/naming.hpp"

namespace topo {

namespace {

struct Builder {
    const Project& p;
    const Addressing& a;
    const std::string& host;
    Firewall out;
    NftTable t;
    bool balanced = false;  // a replicated service publishes ports: the slot maps and their rules

    void rule(const std::string& chain, NftOp op, std::string text, std::string ifname = "",
              std::optional<Prefix> subnet = std::nullopt, std::string set = "", int family = 4) {
        t.rules.push_back({chain, std::move(text), op, family, std::move(ifname), subnet, std::move(set)});
    }

    // The maps of one family: "ports" keyed by protocol . port, "hostports" by
    // address . protocol . port (for host_ip); IPv6 ones end in 6. A
    // replicated service's are "balanced" and "hostbalanced", keyed by a slot too.
    NftSet& map(int family, bool by_address, bool slots = false) {
        auto name = std::string(by_address ? "host" : "") + (slots ? "balanced" : "ports") + (family == 6 ? "6" : "");
        auto layout = slots ? (family == 6 ? (by_address ? NftLayout::AddrProtoPortSlotToAddr6 : NftLayout::ProtoPortSlotToAddr6)
                                           : (by_address ? NftLayout::AddrProtoPortSlotToAddr : NftLayout::ProtoPortSlotToAddr))
                            : (family == 6 ? (by_address ? NftLayout::AddrProtoPortToAddr6 : NftLayout::ProtoPortToAddr6)
                                           : (by_address ? NftLayout::AddrProtoPortToAddr : NftLayout::ProtoPortToAddr));
        return t.sets.try_emplace(name, NftSet{name, layout, {}}).first->second;
    }

    // One port in one family: to `to` (the sandboxes' addresses of that
    // family: one, or every replica's, in order); host_ip unset or 0.0.0.0/::
    // is every address of the host. A replicated service's port has an
    // element per slot, slot s to replica s mod N.
    void publish(const Service& s, const Port& port, const std::optional<IpAddr>& host_ip, const std::vector<IpAddr>& to) {
        bool any = !host_ip || host_ip->is_unspecified();
        PortRange pub = port.published.value_or(PortRange{});
        if (!port.published) {
            auto it = a.ephemeral_ports.find(ephemeral_port_key(s.name, port));
            if (it == a.ephemeral_ports.end()) return;
            pub = {it->second, it->second};
        }
        bool slots = s.replica_of.has_value();
        auto& set = map(to.front().family, !any, slots);
        for (uint16_t i = 0; i < pub.count(); ++i) {
            PortElement e{any ? std::nullopt : host_ip, to_string(port.protocol), uint16_t(pub.first + i), to.front(),
                          uint16_t(port.target.first + i), std::nullopt};
            if (!slots) {
                set.elements.insert(e.str());
                continue;
            }
            for (int slot = 0; slot < replica_slots; ++slot) {
                e.slot = uint16_t(slot);
                e.address = to[size_t(slot) % to.size()];
                set.elements.insert(e.str());
            }
        }
    }

    // The endpoints a service's ports lead to on network `network`: its own,
    // or every replica's (1 to N) for replica 1, which carries them.
    std::vector<const EndpointAddressing*> behind(const Service& s, const std::string& network) {
        std::vector<const EndpointAddressing*> eas;
        if (!s.replica_of) {
            if (auto* ea = a.endpoint(s.name, network)) eas.push_back(ea);
            return eas;
        }
        for (int i = 1; i <= s.replica_of->count; ++i)
            if (auto* ea = a.endpoint(fmt::format("{}-{}", s.replica_of->service, i), network)) eas.push_back(ea);
        return eas;
    }

    // A port with a host address is published in that address's family; one
    // without, in IPv4 and, when the sandbox has an IPv6 address on the target
    // network, in IPv6 too (as Docker does with ip6tables). Validation refuses
    // ::1 and an IPv6 host address on a network without IPv6.
    void ports(std::set<std::string>& dnat_bridges) {
        for (int family : {4, 6})
            for (bool by_address : {false, true}) map(family, by_address);
        for (auto& [_, s] : p.services) {
            if (s.ports.empty() || !runs_here(p, s, host)) continue;
            auto* e = port_target(p, s);
            auto eas = e ? behind(s, e->network) : std::vector<const EndpointAddressing*>{};
            if (eas.empty()) continue;  // only on internal networks: nothing to publish (a warning of the manifest's)
            if (s.replica_of && !balanced) {
                balanced = true;
                for (int family : {4, 6})
                    for (bool by_address : {false, true}) map(family, by_address, true);
            }
            const Network& n = p.networks.at(e->network);
            dnat_bridges.insert(bridge_name(p, n));
            std::vector<IpAddr> to4, to6;
            for (auto* ea : eas) {
                if (ea->v4) to4.push_back(*ea->v4);
                if (ea->v6) to6.push_back(*ea->v6);
            }
            for (auto& port : s.ports) {
                auto host_ip = port.host_ip ? port.host_ip : n.host_binding_ipv4;
                bool v4 = !host_ip || host_ip->is_v4(), v6 = !host_ip || host_ip->is_v6();
                if (v4 && !to4.empty()) publish(s, port, host_ip, to4);
                if (v6 && !to6.empty()) publish(s, port, host_ip, to6);
            }
        }
    }

    void dnat_rules() {
        for (auto* chain : {"prerouting", "output"}) {
            rule(chain, NftOp::DnatHostPorts, "dnat ip to ip daddr . meta l4proto . th dport map @hostports", "",
                 std::nullopt, "hostports");
            rule(chain, NftOp::DnatPorts, "fib daddr type local dnat ip to meta l4proto . th dport map @ports", "",
                 std::nullopt, "ports");
            rule(chain, NftOp::DnatHostPorts, "dnat ip6 to ip6 daddr . meta l4proto . th dport map @hostports6", "",
                 std::nullopt, "hostports6", 6);
            rule(chain, NftOp::DnatPorts, "ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport map @ports6", "",
                 std::nullopt, "ports6", 6);
            if (!balanced) continue;
            auto slot = fmt::format("numgen inc mod {}", replica_slots);
            rule(chain, NftOp::DnatHostBalanced, fmt::format("dnat ip to ip daddr . meta l4proto . th dport . {} map @hostbalanced", slot),
                 "", std::nullopt, "hostbalanced");
            rule(chain, NftOp::DnatBalanced, fmt::format("fib daddr type local dnat ip to meta l4proto . th dport . {} map @balanced", slot),
                 "", std::nullopt, "balanced");
            rule(chain, NftOp::DnatHostBalanced, fmt::format("dnat ip6 to ip6 daddr . meta l4proto . th dport . {} map @hostbalanced6", slot),
                 "", std::nullopt, "hostbalanced6", 6);
            rule(chain, NftOp::DnatBalanced,
                 fmt::format("ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport . {} map @balanced6", slot),
                 "", std::nullopt, "balanced6", 6);
        }
    }

    void forward(const std::vector<const Network*>& bridges) {
        auto& set = t.sets["bridges"];
        set = {"bridges", NftLayout::Ifnames, {}};
        for (auto* n : bridges) set.elements.insert(bridge_name(p, *n));
        // enable_icc: false — nothing routed (or, with br_netfilter, bridged) from
        // the network back into it: not even through a published port at the
        // host's address, or a connection made before the flag was set.
        for (auto* n : bridges)
            if (!n->enable_icc) {
                auto name = bridge_name(p, *n);
                rule("forward", NftOp::DropWithin,
                     fmt::format("iifname {0} oifname {0} drop (network {1} has enable_icc false)", name, n->name), name);
            }
        rule("forward", NftOp::AcceptEstablished, "ct state established,related accept");
        rule("forward", NftOp::AcceptDnat, "ct status dnat accept");
        // With br_netfilter loaded (common on Docker hosts), frames bridged within one
        // network pass this hook too, with the bridge as both in and out interface.
        for (auto* n : bridges) {
            auto name = bridge_name(p, *n);
            if (n->enable_icc)
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
            if (!dnat_bridges.count(name)) continue;
            if (na.subnet4)
                rule("postrouting", NftOp::MasqueradeHairpin,
                     fmt::format("oifname {} ip saddr {} ct status dnat masquerade (hairpin)", name, na.subnet4->str()), name, na.subnet4);
            if (na.subnet6)
                rule("postrouting", NftOp::MasqueradeHairpin,
                     fmt::format("oifname {} ip6 saddr {} ct status dnat masquerade (hairpin)", name, na.subnet6->str()), name, na.subnet6, "", 6);
        }
    }
};

}  // namespace

Firewall firewall(const Project& p, const Addressing& a, const std::string& host) {
    Builder b{p, a, host, {}, {}};
    std::vector<const Network*> bridges;
    bool v6 = false;
    for (auto& [_, n] : p.networks) {
        if (n.driver == Driver::Macvlan || n.external) continue;  // an overlay is a bridge on each host
        bridges.push_back(&n);
        v6 |= a.networks.at(n.name).subnet6.has_value();
    }
    if (bridges.empty()) return std::move(b.out);
    b.t.name = naming::nft_table(p.name);
    b.t.owner = naming::project_marker(p.name);
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
