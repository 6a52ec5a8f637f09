// The desired state (reconcile/desired.hpp): a project and its addressing
// turned into namespaces, links, addresses, routes, the firewall and files.
#include "reconcile/desired.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "model/naming.hpp"
#include "reconcile/diff.hpp"
#include "reconcile/firewall.hpp"
#include "reconcile/names.hpp"

namespace topo {

namespace {

constexpr uint32_t default_mtu = 1500;
// An overlay's frames travel inside 50 bytes of VXLAN, UDP, IPv4 and
// Ethernet headers: 1450 fits a 1500 underlay, the MTU where the underlay's
// is not known.
constexpr uint32_t default_overlay_mtu = 1450;

// The sandbox whose directory holds `f` (<root>/<netns>/hosts).
std::string sandbox_of(const File& f, const std::string& root) {
    auto dir = f.path.substr(0, f.path.rfind('/'));
    return dir.size() > root.size() ? dir.substr(root.size() + 1) : "";
}

struct Builder {
    const Project& p;
    const Addressing& a;
    const DesiredContext& ctx;
    // Which parts to build (desired.hpp, "Parts"): the project-wide objects,
    // and the own objects of these services (null: of every service).
    bool wide = true;
    const std::set<std::string>* services = nullptr;
    // Of the project-wide objects, the overlays' all-zero entries and the
    // files (desired_since works those out itself where it can).
    bool broadcast = true, files = true;
    Desired out;

    // Host link name → what it is for ("network n1"), to refuse a collision of
    // two generated names instead of letting one object overwrite the other.
    std::map<std::string, std::string> host_names;

    void unsupported(std::string what) { out.errors.push_back(std::move(what)); }
    bool own(const Service& s) const { return !services || services->count(s.name); }
    // Each service whose own objects are built (`all`: every service).
    template <class F> void each_service(F&& f, bool all = false) const {
        if (all || !services) {
            for (auto& [_, s] : p.services) f(s);
            return;
        }
        for (auto& name : *services)
            if (auto it = p.services.find(name); it != p.services.end()) f(it->second);
    }
    // The host of `s`, when it is a sandbox of another host of `hosts`.
    const Host* remote_host(const Service& s) const {
        if (!s.has_sandbox() || runs_here(p, s, ctx.host)) return nullptr;
        auto h = p.hosts.find(s.host);
        return h == p.hosts.end() ? nullptr : &h->second;
    }
    // Its address, when `s` is such a sandbox on overlay `n` whose MAC every host knows.
    std::optional<IpAddr> remote_address(const Service& s, const Network& n) const {
        if (auto* h = remote_host(s))
            for (auto& e : s.endpoints)
                if (e.network == n.name)
                    if (const auto* ea = a.endpoint(s.name, n.name); ea && ea->mac) return h->address;
        return std::nullopt;
    }
    uint32_t mtu_of(const Network& n) const {
        if (n.mtu) return *n.mtu;
        if (n.driver != Driver::Overlay) return default_mtu;
        auto it = ctx.overlay_mtu.find(n.name);
        return it == ctx.overlay_mtu.end() ? default_overlay_mtu : it->second;
    }
    void add_host_link(Link l, std::string what) {
        auto [it, fresh] = host_names.emplace(l.name, what);
        if (!fresh) {
            out.errors.push_back(fmt::format(
                "{} and {} get the same kernel name {} (a hash collision of their names); "
                "rename one of them in the manifest",
                it->second, what, l.name));
            return;
        }
        out.state.add(std::move(l));
    }

    // Whether a sandbox of this host is on the network (`anywhere`: of any
    // host). Across hosts a network is built where it is used: an overlay on
    // each host of its sandboxes, a bridge network on its one host; one that
    // no service uses, on every host (as Docker keeps a network with no
    // containers).
    bool used(const Network& n, bool anywhere) const {
        for (auto& [_, s] : p.services)
            if (anywhere ? s.has_sandbox() : runs_here(p, s, ctx.host))
                for (auto& e : s.endpoints)
                    if (e.network == n.name) return true;
        return false;
    }
    bool built_here(const Network& n) const {
        if (n.driver == Driver::Overlay) return used(n, false);
        return p.hosts.size() < 2 || ctx.host.empty() || used(n, false) || !used(n, true);
    }

    // An overlay on this host: the bridge (below), its VXLAN port, and
    // entries for every sandbox of the network on another host: the bridge's
    // (its MAC is behind the VXLAN port), the VXLAN device's (the tunnel to
    // its host), and its addresses' neighbour entries, from which the VXLAN
    // device answers ARP and neighbour solicitations itself.
    // Broadcast goes to every other host of the network, through one
    // all-zero forwarding entry per host.
    void overlay(const Network& n, const std::string& bridge) {
        auto vx = naming::vxlan(p.name, n.name);
        std::set<IpAddr> remote_hosts;
        bool all_zero = wide && broadcast;
        each_service([&](const Service& s) {
            if (all_zero)
                if (auto h = remote_address(s, n)) remote_hosts.insert(*h);
            auto* h = own(s) ? remote_host(s) : nullptr;
            if (!h) return;
            for (auto& e : s.endpoints) {
                if (e.network != n.name) continue;
                const auto* ea = a.endpoint(s.name, n.name);
                if (!ea || !ea->mac) {
                    unsupported(fmt::format("services.{}.networks.{}: an overlay endpoint needs an IPv4 address or "
                                            "a mac_address, from which every host knows its MAC",
                                            s.name, n.name));
                    continue;
                }
                out.state.add(Fdb{vx, *ea->mac, h->address});
                out.state.add(Fdb{vx, *ea->mac, std::nullopt});
                for (auto& ip : {ea->v4, ea->v6})
                    if (ip) out.state.add(Neigh{vx, *ip, *ea->mac});
            }
        }, all_zero);
        if (!wide) return;
        for (auto& host : remote_hosts) out.state.add(Fdb{vx, Mac{}, host});  // std::set: in order
        Link l;
        l.kind = LinkKind::Vxlan;
        l.name = vx;
        l.owner = naming::network_marker(p.name, n.name);
        l.master = bridge;
        l.port_learning = false;
        l.ipv6 = a.networks.at(n.name).subnet6.has_value();  // for its IPv6 neighbour entries
        l.mtu = mtu_of(n);
        Vxlan v;
        v.vni = n.vxlan_id.value_or(naming::default_vni(p.name, n.name));
        v.dstport = n.dstport;
        v.underlay = n.underlay;
        if (auto h = p.hosts.find(ctx.host); h != p.hosts.end()) v.local = h->second.address;
        l.vxlan = v;
        add_host_link(std::move(l), fmt::format("networks.{} (its VXLAN device)", n.name));
    }

    // `host_access` on a macvlan network: a macvlan link of the host's own on
    // the same parent, in bridge mode (macvlans on one parent reach each
    // other, never the parent itself), with an address of the pool, and a
    // host route through it to each of this host's sandboxes on the network.
    void host_access(const Network& n) {
        const auto* ea = a.endpoint(host_access_key, n.name);
        const auto& na = a.networks.at(n.name);
        if (!ea || !ea->v4 || !na.subnet4) return;  // IPAM said why
        Link l;
        l.name = naming::host_shim(p.name, n.name);
        each_service([&](const Service& s) {
            if (!own(s) || !runs_here(p, s, ctx.host) || (!ctx.only.empty() && !ctx.only.count(s.name))) return;
            if (auto* se = a.endpoint(s.name, n.name); se && se->v4) out.state.add(Route{"", {*se->v4, 32}, std::nullopt, l.name});
        });
        if (!wide) return;
        l.kind = LinkKind::Macvlan;
        l.owner = naming::network_marker(p.name, n.name);
        l.macvlan = Macvlan{n.parent, "bridge"};
        l.mtu = n.mtu;
        l.mac = naming::link_mac(l.name);
        l.ipv6 = false;  // nor router advertisements of the LAN, nor an address from them
        auto name = l.name;
        add_host_link(std::move(l), fmt::format("networks.{}.driver_opts.host_access", n.name));
        out.state.add(Address{"", name, {*ea->v4, 32}});
    }

    void network(const Network& n) {
        if (n.driver == Driver::Macvlan) {  // one macvlan link per endpoint, no shared object
            if (n.host_access && used(n, false)) host_access(n);
            return;
        }
        if (!built_here(n)) return;
        auto name = bridge_name(p, n);
        if (n.external) return;  // attached to, never built
        if (n.driver == Driver::Overlay) overlay(n, name);
        if (!wide) return;
        Link br;
        br.kind = LinkKind::Bridge;
        br.name = name;
        br.owner = naming::network_marker(p.name, n.name);
        // Unset is Docker's default, 1500, not "whatever it has": an MTU taken
        // out of the manifest goes back (the kernel keeps a bridge's, and
        // refuses IPv6 on one below 1280).
        br.mtu = mtu_of(n);
        br.ipv6 = n.driver != Driver::Overlay || a.networks.at(n.name).subnet6.has_value();
        add_host_link(std::move(br), fmt::format("networks.{}", n.name));
        // An overlay's bridge holds the gateway on every host, with the same
        // MAC (fixed by the bridge's name, the same everywhere): a sandbox
        // leaves through its own host, and its VXLAN device answers for no
        // gateway, so no request for it crosses the underlay.
        const auto& na = a.networks.at(n.name);
        if (na.gateway4) out.state.add(Address{"", name, {*na.gateway4, na.subnet4->len}});
        if (na.gateway6) out.state.add(Address{"", name, {*na.gateway6, na.subnet6->len}});
    }

    void endpoint(const Service& s, const Endpoint& e) {
        const auto& n = p.networks.at(e.network);
        const auto* ea = a.endpoint(s.name, e.network);
        auto ns = naming::netns(p.name, s.name);
        auto marker = naming::endpoint_marker(p.name, s.name, e.network);
        Link l;
        if (n.driver == Driver::Macvlan) {
            l.kind = LinkKind::Macvlan;
            l.ns = ns;
            l.name = ea->ifname;
            l.owner = marker;
            l.macvlan = Macvlan{n.parent, n.macvlan_mode};
            l.mtu = n.mtu;
            l.mac = ea->mac;
        } else {
            l.kind = LinkKind::Veth;
            l.name = naming::veth(p.name, s.name, e.network);
            l.owner = marker;
            l.master = bridge_name(p, n);
            // enable_icc: false isolates the sandboxes' ports from each other (the
            // bridge and its gateway stay reachable); true is set too, so turning
            // it back on is a change.
            l.isolated = !n.enable_icc;
            l.mtu = mtu_of(n);
            l.peer = Veth{.ns = ns, .name = ea->ifname, .mac = ea->mac, .owner = marker,
                          .ipv6 = a.networks.at(n.name).subnet6.has_value()};
        }
        if (l.ns.empty()) add_host_link(l, fmt::format("services.{}.networks.{}", s.name, e.network));
        else out.state.add(l);
        const auto& na = a.networks.at(n.name);
        if (ea->v4) out.state.add(Address{ns, ea->ifname, {*ea->v4, na.subnet4->len}});
        if (ea->v6) out.state.add(Address{ns, ea->ifname, {*ea->v6, na.subnet6->len}});
        for (auto& ll : e.link_local_ips) out.state.add(Address{ns, ea->ifname, {ll, uint8_t(ll.is_v4() ? 16 : 64)}});
    }

    // The default routes: of the first non-internal network with a gateway
    // in gateway_order (gw_priority, then interface order), per family.
    void default_routes(const Service& s) {
        auto ns = naming::netns(p.name, s.name);
        bool have4 = false, have6 = false;
        for (const auto* e : gateway_order(s)) {
            if (p.networks.at(e->network).internal) continue;
            const auto* ea = a.endpoint(s.name, e->network);
            const auto& na = a.networks.at(e->network);
            if (!have4 && ea->v4 && na.gateway4) {
                out.state.add(Route{ns, {IpAddr::v4(0), 0}, na.gateway4, ea->ifname});
                have4 = true;
            }
            if (!have6 && ea->v6 && na.gateway6) {
                IpAddr any6;
                any6.family = 6;
                out.state.add(Route{ns, {any6, 0}, na.gateway6, ea->ifname});
                have6 = true;
            }
        }
    }

    void service(const Service& s) {
        if (!own(s) || !runs_here(p, s, ctx.host) || (!ctx.only.empty() && !ctx.only.count(s.name))) return;
        out.state.add(Netns{naming::netns(p.name, s.name), naming::sandbox_marker(p.name, s.name)});
        if (s.mode == NetworkMode::None) return;
        for (auto& e : s.endpoints) endpoint(s, e);
        default_routes(s);
    }
};

}  // namespace

ReadScope read_scope(const Project& p) {
    ReadScope scope;
    scope.project = p.name;
    for (auto& [_, n] : p.networks) {
        if (n.driver == Driver::Macvlan) scope.foreign_links.push_back(n.parent);
        else if (n.external) scope.foreign_links.push_back(bridge_name(p, n));
    }
    return scope;
}

namespace {

// What the kernel is read for, from the desired state: the manifest's
// foreign links, the sysctls and files topo sets, and every host-namespace
// link name topo wants, so one that is taken by something not topo's shows
// up as a conflict instead of a failed create.
ReadScope scope_of(const Project& p, const HostState& state) {
    auto scope = read_scope(p);
    auto see = [&](const Object& o) {
        if (auto* l = std::get_if<Link>(&o); l && l->ns.empty()) scope.foreign_links.push_back(l->name);
        else if (auto* s = std::get_if<Sysctl>(&o)) scope.sysctls.push_back(s->key);
        else if (auto* f = std::get_if<File>(&o)) scope.files.push_back(f->path);
    };
    // Not the entries (15,000 on an overlay host of 100 hosts): none of these.
    auto& objects = state.objects;
    auto entries = objects.lower_bound(ObjectKey{Kind::Fdb, ""});
    for (auto it = objects.begin(); it != entries; ++it) see(it->second);
    for (auto it = objects.lower_bound(ObjectKey{Kind::Sysctl, ""}); it != objects.end(); ++it) see(it->second);
    return scope;
}

// The parts (desired.hpp) asked for: the project-wide objects (`wide`:
// with the all-zero entries and the files, or without them), and the own
// objects of `services` (null: of every service).
struct Parts {
    bool wide = true, broadcast = true, files = true;
    const std::set<std::string>* services = nullptr;
};

Desired build(const Project& p, const Addressing& a, const DesiredContext& ctx, const Parts& parts = {}) {
    Builder b{p, a, ctx, parts.wide, parts.services, parts.broadcast, parts.files, {}, {}};
    for (auto& [_, n] : p.networks) b.network(n);
    b.each_service([&](const Service& s) { b.service(s); });
    if (!parts.wide) return std::move(b.out);
    // The firewall: one table, and the sysctls it needs.
    auto fw = firewall(p, a, ctx.host);
    if (fw.table) b.out.state.add(*fw.table);
    for (auto& s : fw.sysctls) b.out.state.add(s);
    if (!parts.files) return std::move(b.out);
    for (auto& f : name_files(p, a, {ctx.host, ctx.host_resolv_conf, ctx.files_root})) {
        // A file of its own (names are the project's: a new member is listed
        // in its peers' files), or a link of a sandbox that is built.
        if (!ctx.only.empty() && !f.link.empty() && !b.out.state.find(ObjectKey{Kind::Netns, sandbox_of(f, ctx.files_root)}))
            continue;
        f.owner = naming::project_marker(p.name);
        b.out.state.add(std::move(f));  // hosts files are O(N) each: never copy them needlessly
    }
    return std::move(b.out);
}

// Whether network `n` is built on this host, and whether it is used here
// (what decides its entries and routes for the services of other hosts).
std::pair<bool, bool> presence(const Project& p, const Addressing& a, const DesiredContext& ctx, const Network& n) {
    Builder b{p, a, ctx, true, nullptr, true, true, {}, {}};
    return {b.built_here(n), b.used(n, false)};
}

}  // namespace

bool project_wide(const Object& o) {
    if (auto* l = std::get_if<Link>(&o)) return l->ns.empty() && l->kind != LinkKind::Veth;
    if (auto* a = std::get_if<Address>(&o)) return a->ns.empty();
    if (std::holds_alternative<Route>(o) || std::holds_alternative<Neigh>(o) || std::holds_alternative<Netns>(o))
        return false;
    if (auto* f = std::get_if<Fdb>(&o)) return f->mac == Mac{};
    return true;  // sysctls, the nftables table, files
}

Desired desired_state(const Project& p, const Addressing& a, const DesiredContext& ctx) {
    auto out = build(p, a, ctx);
    out.scope = scope_of(p, out.state);
    return out;
}

std::set<std::string> with_replicas(const Project& was, const Project& p, std::set<std::string> touched) {
    auto named = touched;
    for (auto* project : {&was, &p})
        for (auto& service : named)
            for (auto& replica : replicas_of(*project, service)) touched.insert(replica);
    return touched;
}

void readdressed(const Addressing& was, const Addressing& now, std::set<std::string>& touched) {
    auto before = was.endpoints.begin(), after = now.endpoints.begin();
    while (before != was.endpoints.end() || after != now.endpoints.end()) {
        if (after == now.endpoints.end() || (before != was.endpoints.end() && before->first < after->first)) {
            touched.insert((before++)->first.first);
        } else if (before == was.endpoints.end() || after->first < before->first) {
            touched.insert((after++)->first.first);
        } else {
            if (before->second != after->second) touched.insert(after->first.first);
            ++before, ++after;
        }
    }
}

std::optional<DesiredSince> desired_since(HostState& state, const Project& was, const Addressing& was_addressing,
                                          const DesiredContext& was_ctx, const Project& p, const Addressing& a,
                                          const DesiredContext& ctx, const std::set<std::string>& changed) {
    if (!ctx.only.empty() || !was_ctx.only.empty() || was_ctx.host != ctx.host || was_ctx.files_root != ctx.files_root ||
        was_ctx.overlay_mtu != ctx.overlay_mtu || was.name != p.name || was.networks != p.networks ||
        was.hosts != p.hosts || was_addressing.networks != a.networks)
        return std::nullopt;
    for (auto& [_, n] : p.networks)
        if (presence(was, was_addressing, ctx, n) != presence(p, a, ctx, n)) return std::nullopt;
    // The files are the same unless a touched service changed what they say
    // (a move between two other hosts does not): ~1.3 ms at 5,000 services.
    bool files = was_ctx.host_resolv_conf != ctx.host_resolv_conf ||
                 !same_name_files(was, was_addressing, p, a, ctx.host, changed);
    auto old_part = build(was, was_addressing, ctx, {.wide = false, .services = &changed});
    if (!old_part.errors.empty()) return std::nullopt;
    auto new_part = build(p, a, ctx, {.wide = false, .services = &changed});
    const std::set<std::string> none;
    auto wide = build(p, a, ctx, {.wide = true, .broadcast = false, .files = files, .services = &none});
    // A kernel name that two objects would share (a hash collision of their
    // names): the whole desired state says which.
    std::map<std::string, int> host_links;
    auto count_links = [&](const HostState& s, bool staying) {
        for (auto it = s.objects.lower_bound(ObjectKey{Kind::Bridge, ""}); it != s.objects.end() && it->first.kind < Kind::Address; ++it) {
            auto& l = std::get<Link>(it->second);
            if (!l.ns.empty() || (staying && (project_wide(it->second) || old_part.state.objects.count(it->first)))) continue;
            ++host_links[l.name];
        }
    };
    count_links(state, true);
    count_links(new_part.state, false);
    count_links(wide.state, false);
    for (auto& [_, n] : host_links)
        if (n > 1) return std::nullopt;
    for (auto& [key, _] : new_part.state.objects)
        if (state.objects.count(key) && !old_part.state.objects.count(key)) return std::nullopt;
    for (auto& [key, _] : old_part.state.objects)
        if (!state.objects.count(key)) return std::nullopt;  // not the state `was` makes

    // `state` becomes the new one: the old parts taken out (kept to compare),
    // the new ones put in.
    HostState old_parts, new_parts;
    for (auto& [key, _] : old_part.state.objects) old_parts.objects.insert(state.objects.extract(key));
    auto take_wide = [&](auto from, auto to) {
        for (auto it = from; it != to;) {
            auto next = std::next(it);
            if (project_wide(it->second) && (files || it->first.kind != Kind::File))
                old_parts.objects.insert(state.objects.extract(it));
            it = next;
        }
    };
    take_wide(state.objects.begin(), state.objects.lower_bound(ObjectKey{Kind::Fdb, ""}));
    take_wide(state.objects.lower_bound(ObjectKey{Kind::Sysctl, ""}), state.objects.end());
    // The overlays' all-zero entries, one per host with a sandbox on the
    // network: only a host where a touched service was or is can have
    // gained or lost one (a scan of the services on it, up to the first).
    std::map<std::string, std::vector<std::string>> hosts_at;  // by address: the hosts' names
    for (auto* project : {&was, &p})
        for (auto& name : changed)
            if (auto s = project->services.find(name); s != project->services.end())
                if (auto h = p.hosts.find(s->second.host); h != p.hosts.end()) hosts_at[h->second.address.str()];
    for (auto& [name, h] : p.hosts)
        if (auto it = hosts_at.find(h.address.str()); it != hosts_at.end()) it->second.push_back(name);
    Builder b{p, a, ctx, true, nullptr, true, true, {}, {}};
    for (auto& [_, n] : p.networks) {
        auto vx = naming::vxlan(p.name, n.name);
        if (n.driver != Driver::Overlay || !wide.state.find(ObjectKey{Kind::Vxlan, vx})) continue;
        for (auto& [address, names] : hosts_at) {
            auto host = p.hosts.at(names.front()).address;
            if (auto node = state.objects.extract(ObjectKey{Kind::Fdb, vx + ' ' + Mac{}.str() + ' ' + address}))
                old_parts.objects.insert(std::move(node));
            bool any = false;
            for (auto it = p.services.begin(); it != p.services.end() && !any; ++it)
                any = std::find(names.begin(), names.end(), it->second.host) != names.end() &&
                      b.remote_address(it->second, n) == host;
            if (any) wide.state.add(Fdb{vx, Mac{}, host});
        }
    }
    for (auto* part : {&new_part, &wide})
        for (auto& [key, o] : part->state.objects) {
            state.objects.emplace(key, o);
            new_parts.objects.emplace(key, o);
        }
    DesiredSince out;
    out.moved = diff(new_parts, old_parts).changes;
    out.desired.state = std::move(state);
    out.desired.scope = scope_of(p, out.desired.state);
    out.desired.errors = std::move(wide.errors);
    out.desired.errors.insert(out.desired.errors.end(), new_part.errors.begin(), new_part.errors.end());
    return out;
}

}  // namespace topo
