// The checks of a plan against the host's facts, and the facts a plan is
// made from (reconcile/host_checks.hpp).
#include "reconcile/host_checks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
#include <optional>
#include <set>

#include "model/naming.hpp"

namespace topo {

// Foreign objects the manifest relies on must exist: topo attaches to them but
// never creates them.
void check_references(const Project& p, const Computed& c, std::vector<std::string>& errors) {
    for (auto& [_, n] : p.networks) {
        std::string name = n.driver == Driver::Macvlan ? n.parent : bridge_name(p, n);
        bool referenced = n.external || n.driver == Driver::Macvlan;
        if (!referenced || n.driver == Driver::Overlay) continue;
        bool used = false;
        for (auto& [__, s] : p.services)
            for (auto& e : s.endpoints) used |= e.network == n.name;
        if (!used) continue;
        Kind k = n.driver == Driver::Macvlan ? Kind::Macvlan : Kind::Bridge;
        bool found = false;
        for (auto& [key, o] : c.live.objects)
            if (auto* l = std::get_if<Link>(&o); l && l->ns.empty() && l->name == name) found = true;
        if (!found) {
            // At the key that names it, as the manifest's own errors are.
            auto& at = n.link_at;
            auto where = located(at.mark, at.path.empty() ? "networks." + n.name : at.path);
            errors.push_back(fmt::format(
                "{}: {} {} does not exist on this host; create it first{}", where,
                k == Kind::Macvlan ? "parent interface" : "external bridge", name,
                k == Kind::Macvlan ? " or set driver_opts.parent to an existing interface"
                                   : " or drop `external: true` so topo creates it"));
        }
    }
}

// An encrypted overlay this host takes part in: refused, naming what the
// kernel lacks, and never built without encryption. (With ESP there, it is
// still refused: it is designed, in ARCHITECTURE.md, not built.)
void check_encryption(Kernel& kernel, const Project& p, const Computed& c, std::vector<std::string>& errors) {
    for (auto& [_, n] : p.networks) {
        if (!n.encrypted || !c.desired.state.find({Kind::Vxlan, naming::vxlan(p.name, n.name)})) continue;
        auto where = located(*n.encrypted, "networks." + n.name + ".driver_opts.encrypted");
        auto why = kernel.cannot_encrypt();
        if (!why.empty())
            errors.push_back(fmt::format("{}: this host cannot encrypt the overlay: {}; topo never builds an "
                                         "unencrypted overlay where encryption was asked for: run on a kernel with "
                                         "it, or drop `encrypted`",
                                         where, why));
        else
            errors.push_back(fmt::format("{}: encrypted overlays are not built by this version of topo (the kernel "
                                         "has ESP; the design is in ARCHITECTURE.md): drop `encrypted`",
                                         where));
    }
}

// The MTU of each overlay without one in the manifest: its underlay's (the
// named device's, or the lowest of the devices the host routes the other
// hosts through) less the tunnel's headers: 50 bytes over IPv4, 70 over IPv6.
std::map<std::string, uint32_t> overlay_mtus(Kernel& kernel, const Project& p, const std::string& host) {
    std::map<std::string, uint32_t> out;
    auto here = p.hosts.find(host);
    std::vector<IpAddr> peers;
    for (auto& [other, h] : p.hosts)
        if (other != host) peers.push_back(h.address);
    bool v6 = here != p.hosts.end() ? here->second.address.is_v6() : !peers.empty() && peers.front().is_v6();
    const uint32_t headers = v6 ? 70 : 50;
    std::map<std::string, std::optional<uint32_t>> by_underlay;  // "" = routed to the peers: asked once
    std::optional<std::vector<VxlanInUse>> devices;              // read once, if a network needs them
    for (auto& [name, n] : p.networks) {
        if (n.driver != Driver::Overlay || n.mtu || (n.underlay.empty() && peers.empty())) continue;
        bool here_too = false;
        for (auto& [_, s] : p.services)
            if (runs_here(p, s, host))
                for (auto& e : s.endpoints) here_too |= e.network == name;
        if (!here_too) continue;
        auto it = by_underlay.find(n.underlay);
        if (it == by_underlay.end()) it = by_underlay.emplace(n.underlay, kernel.underlay_mtu(n.underlay, peers)).first;
        if (auto mtu = it->second; mtu && *mtu > headers + 68) {
            out[name] = *mtu - headers;
        } else if (!it->second) {
            // No route to any peer (the underlay down, or not up yet): a device
            // that exists keeps its MTU; a new one gets the default.
            if (!devices) devices = kernel.vxlans();
            for (auto& d : *devices)
                if (d.name == naming::vxlan(p.name, name) && d.mtu) out[name] = d.mtu;
        }
    }
    return out;
}

// The external bridges of a project as the kernel has them (one that is
// missing is reported by check_references). This project's own addresses on
// them, which the neighbour tables have seen too, stay its own.
std::map<std::string, ExternalBridge> external_bridges(Kernel& kernel, const Project& p, const Addressing& previous) {
    std::map<std::string, ExternalBridge> out;
    for (auto& [name, n] : p.networks) {
        if (!n.external || n.driver != Driver::Bridge) continue;
        auto facts = kernel.bridge_facts(bridge_name(p, n));
        if (!facts) continue;
        auto& e = out[name];
        for (auto& a : facts->addresses) {
            if (a.addr.is_v4() && !e.subnet4) e.subnet4 = a.network(), e.gateway4 = a.addr;
            bool link_local = !a.addr.is_v4() && a.addr.bytes[0] == 0xfe && (a.addr.bytes[1] & 0xc0) == 0x80;
            if (!a.addr.is_v4() && !link_local && !e.subnet6) e.subnet6 = a.network(), e.gateway6 = a.addr;
            e.used.insert(a.addr);
        }
        e.used.insert(facts->neighbours.begin(), facts->neighbours.end());
        for (auto& [key, ea] : previous.endpoints)
            if (key.second == name)
                for (auto& a : {ea.v4, ea.v6})
                    if (a) e.used.erase(*a);
    }
    return out;
}

// A bridge this run removes must have no ports but this project's: another
// project attached to it as an external network, or a user's link, would be
// cut off (Docker: "network has active endpoints").
void refuse_busy_bridges(Kernel& kernel, const std::string& project, const std::vector<Change>& changes,
                         std::vector<std::string>& errors) {
    // Ports this run removes are not in the way (a veth a killed run left
    // before marking it is the project's by its generated name).
    std::set<std::string> going;
    for (auto& c : changes)
        if (auto* l = c.before ? std::get_if<Link>(&*c.before) : nullptr; l && l->ns.empty() && !c.after)
            going.insert(l->name);
    for (auto& c : changes) {
        if (c.action != Action::Delete || c.kind() != Kind::Bridge) continue;
        auto facts = kernel.bridge_facts(c.id());
        if (!facts) continue;
        std::vector<std::string> others;
        for (auto& port : facts->ports) {
            if (naming::owned_by(port.marker, project) || going.count(port.name)) continue;
            if (auto m = naming::Marker::parse(port.marker))
                others.push_back(fmt::format("{} (project {})", port.name, m->project));
            else
                others.push_back(fmt::format("{} (not topo's)", port.name));
        }
        if (!others.empty())
            errors.push_back(fmt::format("bridge {} still has endpoints that are not this project's: {}; remove them "
                                         "first (destroy the other project, or detach them), or pass --force to cut "
                                         "them off",
                                         c.id(), fmt::join(others, ", ")));
    }
}

// A VXLAN device this run makes where the host already has one with its
// VNI on its UDP port, or one that takes every VNI of the port (external,
// as an EVPN or Cilium setup has): the kernel would refuse it at apply
// ("Object exists"), so the plan says it, naming the device and whose it is.
void refuse_taken_vnis(Kernel& kernel, const std::vector<Change>& changes, std::vector<std::string>& errors) {
    std::vector<const Link*> made;
    std::set<std::string> going;  // devices this run removes first (a replaced one is both)
    for (auto& c : changes) {
        auto* before = c.before ? std::get_if<Link>(&*c.before) : nullptr;
        auto* after = c.after ? std::get_if<Link>(&*c.after) : nullptr;
        if (before && before->vxlan && (c.action == Action::Delete || c.action == Action::Replace)) going.insert(before->name);
        if (after && after->vxlan && (c.action == Action::Create || c.action == Action::Replace)) made.push_back(after);
    }
    if (made.empty()) return;
    auto devices = kernel.vxlans();
    for (auto* l : made) {
        const auto& v = *l->vxlan;
        auto m = naming::Marker::parse(l->owner);
        auto network = m ? "network " + m->network : "vxlan " + l->name;
        const uint8_t family = v.local ? v.local->family : 4;
        for (auto& d : devices) {
            if (d.name == l->name || going.count(d.name) || d.port != v.dstport) continue;
            if (d.vni && (*d.vni != v.vni || d.family != family)) continue;  // an external one takes both families
            auto owner = naming::Marker::parse(d.marker);
            auto whose = owner && !owner->network.empty()
                             ? fmt::format("network {} of project {}", owner->network, owner->project)
                             : std::string("not topo's");
            if (d.vni)
                errors.push_back(fmt::format("{}: VNI {} on UDP port {} is taken on this host by VXLAN device {} ({}); "
                                             "the kernel allows one device per VNI and port: choose another vxlan_id",
                                             network, v.vni, v.dstport, d.name, whose));
            else
                errors.push_back(fmt::format("{}: UDP port {} is taken on this host by VXLAN device {} ({}), which "
                                             "receives every VNI on it (external); choose another dstport",
                                             network, v.dstport, d.name, whose));
        }
    }
}

// A published port that this run adds, on which a program of the host
// already listens: topo's DNAT would take that program's traffic (with
// "22:22", an operator's SSH). Refused, naming the port and the listener,
// unless --take-ports or the port's x-topo-take-over says to take it, and
// then a note in the plan says so. Ports the project already publishes are
// not looked at again: a program that binds one later gets nothing from it anyway.
void refuse_taken_ports(Kernel& kernel, const Project* p, bool take_all, const std::vector<Change>& changes,
                        std::vector<std::string>& errors, std::vector<std::string>& notes) {
    static const NftTable none;
    std::vector<std::string> added;
    for (auto& c : changes) {
        if (c.kind() != Kind::NftTable || !c.after) continue;
        const auto& have = c.before ? std::get<NftTable>(*c.before) : none;
        for (auto& d : element_diff(std::get<NftTable>(*c.after), have))
            if (d.set.find("ports") != std::string::npos || d.set.find("balanced") != std::string::npos)
                added.insert(added.end(), d.add.begin(), d.add.end());
    }
    if (added.empty()) return;
    auto listening = kernel.listeners();
    auto taken_over = [&](const std::string& proto, uint16_t port) {
        if (p)
            for (auto& [_, svc] : p->services)
                for (auto& sp : svc.ports)
                    if (sp.take_over && sp.published && to_string(sp.protocol) == proto &&
                        port >= sp.published->first && port <= sp.published->last)
                        return true;
        return false;
    };
    std::set<std::string> said, noted;
    for (auto& text : added) {
        auto e = PortElement::parse(text);
        if (!e) continue;
        for (auto& l : listening) {
            if (l.protocol != e->protocol || l.port != e->port) continue;
            bool everywhere = l.address.is_unspecified() || !e->host_ip || e->host_ip->is_unspecified();
            if (!everywhere && l.address != *e->host_ip) continue;
            auto at = l.address.is_v4() ? l.address.str() : "[" + l.address.str() + "]";
            if (take_all || taken_over(e->protocol, e->port)) {
                noted.insert(fmt::format("host port {}/{}: a program on this host listens on {}:{}; the port is "
                                         "taken over ({}): its traffic goes to the sandbox",
                                         e->port, e->protocol, at, e->port, take_all ? "--take-ports" : "x-topo-take-over"));
                continue;
            }
            said.insert(fmt::format("host port {}/{} is taken: a program on this host listens on {}:{}, and publishing "
                                    "the port would take its traffic; publish another port, stop that program, or "
                                    "take it over (--take-ports, or x-topo-take-over: true on the port)",
                                    e->port, e->protocol, at, e->port));
        }
    }
    errors.insert(errors.end(), said.begin(), said.end());
    notes.insert(notes.end(), noted.begin(), noted.end());
}

// Addresses handed out afresh on an external bridge are probed first; one that
// answers is taken by someone else: IPAM runs again without it. A static one
// that answers is an error.
IpamResult allocate_probed(Kernel& kernel, IpamInput& ii) {
    auto ipam = allocate(ii);
    const Project& p = *ii.project;
    for (int round = 0; round < 16 && ipam.errors.empty(); ++round) {
        bool again = false;
        for (auto& [key, ea] : ipam.addressing.endpoints) {
            auto ext = ii.external.find(key.second);
            if (ext == ii.external.end()) continue;
            auto* before = ii.previous.endpoint(key.first, key.second);
            auto& n = p.networks.at(key.second);
            const Endpoint* e = nullptr;
            for (auto& x : p.services.at(key.first).endpoints)
                if (x.network == key.second) e = &x;
            for (int family : {4, 6}) {
                auto& a = family == 4 ? ea.v4 : ea.v6;
                if (!a || (before && (family == 4 ? before->v4 : before->v6) == a)) continue;  // its own, from before
                if (!kernel.address_in_use(bridge_name(p, n), *a)) continue;
                if (e && (family == 4 ? e->ipv4_address : e->ipv6_address)) {
                    ipam.errors.push_back(
                        {fmt::format("services.{}.networks.{}.ipv{}_address", key.first, key.second, family),
                         fmt::format("{} is in use on bridge {} (something answers {} for it); choose another address",
                                     a->str(), bridge_name(p, n), family == 4 ? "ARP" : "neighbour discovery")});
                    continue;
                }
                ext->second.used.insert(*a);
                again = true;
            }
        }
        if (!again) break;
        ipam = allocate(ii);
    }
    return ipam;
}

}  // namespace topo
