// Allocations read back from the kernel (reconcile/recover.hpp), for a lost
// or damaged state record.
#include "reconcile/recover.hpp"

#include <sstream>

#include "model/naming.hpp"

namespace topo {

namespace {

// The marker, when it is this project's and of this kind.
std::optional<naming::Marker> marker_of(const std::string& text, const std::string& project, naming::Marker::Kind kind) {
    auto m = naming::Marker::parse(text);
    if (!m || m->project != project || m->kind != kind) return std::nullopt;
    return m;
}

std::string gateway_key(const std::string& ns, const std::string& dev, int family) {
    return ns + "/" + dev + "/" + std::to_string(family);
}

struct Recovery {
    const HostState& live;
    const std::string& project;
    Addressing out;
    std::map<std::pair<std::string, std::string>, std::vector<Prefix>> addresses;  // by (ns, link)
    std::map<std::string, std::optional<IpAddr>> default_gateway;                  // by "ns/dev/family"

    void index() {
        for (auto& [_, o] : live.objects) {
            if (auto* a = std::get_if<Address>(&o))  // the reader leaves out link-local ones
                addresses[{a->ns, a->link}].push_back(a->prefix);
            if (auto* r = std::get_if<Route>(&o); r && r->dst.len == 0)
                default_gateway[gateway_key(r->ns, r->dev, r->dst.addr.family)] = r->gateway;
        }
    }

    void network(const Link& l) {
        auto m = marker_of(l.owner, project, naming::Marker::Kind::Network);
        if (!m || l.kind != LinkKind::Bridge) return;
        auto& n = out.networks[m->network];
        for (auto& p : addresses[{l.ns, l.name}]) {
            (p.addr.is_v4() ? n.subnet4 : n.subnet6) = p.network();
            (p.addr.is_v4() ? n.gateway4 : n.gateway6) = p.addr;
        }
    }

    void endpoint(const std::string& marker, const std::string& ns, const std::string& ifname) {
        auto m = marker_of(marker, project, naming::Marker::Kind::Endpoint);
        if (!m) return;
        auto& e = out.endpoints[{m->service, m->network}];
        e.ifname = ifname;
        for (auto& p : addresses[{ns, ifname}]) {
            (p.addr.is_v4() ? e.v4 : e.v6) = p.addr;
            // A network without a bridge of topo's (macvlan) shows its subnet on its endpoints.
            auto& n = out.networks[m->network];
            auto& subnet = p.addr.is_v4() ? n.subnet4 : n.subnet6;
            if (subnet) continue;
            subnet = p.network();
            auto gw = default_gateway.find(gateway_key(ns, ifname, p.addr.family));
            if (gw != default_gateway.end() && gw->second)
                (p.addr.is_v4() ? n.gateway4 : n.gateway6) = gw->second;
        }
    }

    // A macvlan network's link for the host: its address is the network's
    // endpoint under host_access_key.
    void host_access(const Link& l) {
        auto m = marker_of(l.owner, project, naming::Marker::Kind::Network);
        if (!m) return;
        for (auto& p : addresses[{l.ns, l.name}])
            if (p.addr.is_v4()) out.endpoints[{host_access_key, m->network}].v4 = p.addr;
    }

    // Whether `published` is a host port the service asks for by number.
    static bool fixed(const Service& s, Protocol proto, uint16_t published) {
        for (auto& p : s.ports)
            if (p.published && p.protocol == proto && published >= p.published->first && published <= p.published->last)
                return true;
        return false;
    }

    // A port published without a host port got one from topo; the port maps hold
    // it as "[host_ip] proto published target_addr target_port".
    void ephemeral_ports(const Project& p) {
        auto* table = live.find_as<NftTable>(Kind::NftTable, naming::nft_table(project));
        if (!table || table->owner.empty()) return;  // a table that is not topo's says nothing of its ports
        for (auto& [_, s] : p.services)
            for (auto& port : s.ports)
                if (!port.published) find_port(*table, s, port);
    }

    void find_port(const NftTable& table, const Service& s, const Port& port) {
        // A port bound to one address (not 0.0.0.0 or ::) is keyed by it; one
        // without may still be, by the network's host_binding_ipv4.
        std::string host = port.host_ip && !port.host_ip->is_unspecified() ? port.host_ip->str() : "";
        for (auto& [_, set] : table.sets)
            for (auto& text : set.elements) {
                auto el = PortElement::parse(text);
                if (!el) continue;
                if (el->host_ip ? (!host.empty() && el->host_ip->str() != host) : !host.empty()) continue;
                if (el->protocol != to_string(port.protocol) || el->target != port.target.first ||
                    fixed(s, port.protocol, el->port))
                    continue;
                for (auto& [key, e] : out.endpoints)
                    if (key.first == s.name && (e.v4 == el->address || e.v6 == el->address)) {
                        out.ephemeral_ports[ephemeral_port_key(s.name, port)] = el->port;
                        return;
                    }
            }
    }
};

}  // namespace

Addressing recover_addressing(const HostState& live, const std::string& project, const Project* p) {
    Recovery r{live, project, {}, {}, {}};
    r.index();
    for (auto& [_, o] : live.objects) {
        auto* l = std::get_if<Link>(&o);
        if (!l) continue;
        if (l->kind == LinkKind::Bridge) r.network(*l);
        if (l->peer) r.endpoint(l->peer->owner, l->peer->ns, l->peer->name);
        if (l->kind == LinkKind::Macvlan && !l->ns.empty()) r.endpoint(l->owner, l->ns, l->name);
        if (l->kind == LinkKind::Macvlan && l->ns.empty()) r.host_access(*l);
    }
    if (p) r.ephemeral_ports(*p);
    return std::move(r.out);
}

Addressing overlay(Addressing base, const Addressing& live) {
    for (auto& [name, n] : live.networks) {
        auto& b = base.networks[name];
        if (n.subnet4) b.subnet4 = n.subnet4, b.gateway4 = n.gateway4;
        if (n.subnet6) b.subnet6 = n.subnet6, b.gateway6 = n.gateway6;
    }
    for (auto& [key, e] : live.endpoints) {
        auto& b = base.endpoints[key];
        if (e.v4) b.v4 = e.v4;
        if (e.v6) b.v6 = e.v6;
        if (b.ifname.empty()) b.ifname = e.ifname;
    }
    for (auto& [key, port] : live.ephemeral_ports) base.ephemeral_ports[key] = port;
    return base;
}

}  // namespace topo
