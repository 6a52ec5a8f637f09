// compute() and verify() (reconcile/reconcile.hpp): the steps from a manifest
// to a plan, the checks against the host's facts, and the read-back.
#include "reconcile/reconcile.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "model/naming.hpp"
#include "model/trace.hpp"
#include "reconcile/diff.hpp"
#include "reconcile/plan.hpp"
#include "reconcile/recover.hpp"

namespace topo {

namespace {

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
    for (auto& [name, n] : p.networks) {
        if (n.driver != Driver::Overlay || n.mtu || (n.underlay.empty() && peers.empty())) continue;
        bool here_too = false;
        for (auto& [_, s] : p.services)
            if (runs_here(p, s, host))
                for (auto& e : s.endpoints) here_too |= e.network == name;
        if (!here_too) continue;
        auto it = by_underlay.find(n.underlay);
        if (it == by_underlay.end()) it = by_underlay.emplace(n.underlay, kernel.underlay_mtu(n.underlay, peers)).first;
        if (auto mtu = it->second; mtu && *mtu > headers + 68) out[name] = *mtu - headers;
    }
    return out;
}

// A host link of a network (a bridge), not one sandbox's (a veth's host end).
bool is_network_link(const Object& o) {
    auto* l = std::get_if<Link>(&o);
    return l && l->ns.empty() && l->kind != LinkKind::Veth;
}

// The part of the host a targeted run reads and changes: the named services'
// sandboxes, and of the rest what its desired state holds (desired_state with
// `only`): the project's host links other than veth ends (bridges), the
// nftables table, the shared files and those of the named sandboxes.
Focus targeted_focus(const Project& p, const HostState& desired, const std::set<std::string>& services) {
    Focus f;
    f.nft = true;
    for (auto& name : services) f.sandboxes.insert(naming::netns(p.name, name));
    for (auto& [_, o] : desired.objects) {
        if (is_network_link(o)) f.host_links.insert(std::get<Link>(o).name);
        if (auto* file = std::get_if<File>(&o)) f.files.insert(file->path);
    }
    return f;
}

// Published ports of the services a targeted run leaves alone stay as the
// kernel has them; those of the named ones (by their new and old addresses)
// are as the manifest says.
void keep_others_ports(HostState& desired, const HostState& live, const std::string& project,
                       const std::set<std::string>& addresses) {
    ObjectKey key{Kind::NftTable, naming::nft_table(project)};
    auto want_it = desired.objects.find(key);
    auto* have = live.find_as<NftTable>(key.kind, key.id);  // none yet: none of the others' ports either
    if (want_it == desired.objects.end()) return;
    auto& want = std::get<NftTable>(want_it->second);
    auto named = [&](const std::string& element) {
        auto e = PortElement::parse(element);
        return e && addresses.count(e->address.str()) > 0;
    };
    auto live_set = [&](const std::string& name) -> const NftSet* {
        if (!have) return nullptr;
        auto it = have->sets.find(name);
        return it == have->sets.end() ? nullptr : &it->second;
    };
    for (auto& [name, set] : want.sets) {
        if (set.layout == NftLayout::Ifnames) continue;
        std::set<std::string> merged;
        for (auto& e : set.elements)
            if (named(e)) merged.insert(e);
        if (auto* now = live_set(name))
            for (auto& e : now->elements)
                if (!named(e)) merged.insert(e);
        set.elements = std::move(merged);
    }
}

// The addresses, old and new, of the services a targeted run names.
std::set<std::string> addresses_of(const std::set<std::string>& services, const Addressing& now, const Addressing& before) {
    std::set<std::string> out;
    for (auto* a : {&now, &before})
        for (auto& [key, e] : a->endpoints)
            if (services.count(key.first))
                for (auto& ip : {e.v4, e.v6})
                    if (ip) out.insert(ip->str());
    return out;
}

// A targeted run changes no network: its other sandboxes would be left behind.
void refuse_network_changes(const std::vector<Change>& changes, std::vector<std::string>& errors) {
    for (auto& ch : changes) {
        if (ch.action == Action::Create) continue;
        auto& o = ch.before ? *ch.before : *ch.after;
        auto* a = std::get_if<Address>(&o);
        if (is_network_link(o) || (a && a->ns.empty()))
            errors.push_back(fmt::format(
                "{} {} {}: a network would change, and with it every sandbox on it; run `topo apply -f FILE` "
                "without service names to apply the whole manifest",
                to_string(ch.action), to_string(ch.kind()), ch.id()));
    }
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
            if (d.set.starts_with("ports") || d.set.starts_with("hostports"))
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

}  // namespace

namespace {

// Step 1, desire: the allocations (the record's, or without one what the
// kernel holds, so nothing that runs is renumbered), then what the kernel
// should hold for this project on this host. For a destroy (no project),
// nothing. False when the plan cannot be made. Where there is no record,
// the host is read whole first; `seen`, when given, keeps what was observed,
// for the caller to judge again instead of reading the host a second time.
bool desire(Kernel& kernel, const PlanInput& in, const std::set<std::string>& only, Computed& c,
            std::optional<Observation>* seen = nullptr) {
    if (!in.project) {
        c.desired.scope.project = in.project_name;
    } else {
        for (auto& name : only)
            if (!in.project->services.count(name))
                c.errors.push_back(fmt::format("services.{}: no such service in the manifest; name one of its "
                                               "services, or none to apply all of it",
                                               name));
        if (!c.errors.empty()) return false;
        Addressing previous = in.previous;
        if (previous.networks.empty() && previous.endpoints.empty()) {
            trace::Span t("recover addressing");
            auto scope = read_scope(*in.project);
            auto observed = kernel.observe(scope);
            auto live = seen ? judge(seen->emplace(std::move(observed)), scope) : judge(std::move(observed), scope);
            previous = recover_addressing(live, in.project->name, in.project);
        }
        auto external = external_bridges(kernel, *in.project, previous);
        IpamInput ii{in.project, std::move(previous), kernel.host_routes(), in.other_subnets, in.other_ports,
                     only, std::move(external)};
        auto ipam = (trace::Span("ipam"), allocate_probed(kernel, ii));
        for (auto& e : ipam.errors) c.errors.push_back(fmt::format("{}: {}", e.path, e.message));
        c.addressing = std::move(ipam.addressing);
        if (!c.errors.empty()) return false;
        trace::Span t("desired state");
        c.desired = desired_state(*in.project, c.addressing,
                                  {in.host, in.host_resolv_conf, in.files_root, only, overlay_mtus(kernel, *in.project, in.host)});
        c.errors = c.desired.errors;
    }
    // The sandboxes the project has or had: a namespace by one of these names
    // that is not topo's is a conflict, and a half-made one is claimed.
    const auto& project = c.desired.scope.project;
    auto& sandboxes = c.desired.scope.sandboxes;
    for (auto& [key, _] : in.previous.endpoints)
        if (key.first != host_access_key) sandboxes.push_back(naming::netns(project, key.first));
    if (in.project)
        for (auto& [name, s] : in.project->services)
            if (s.has_sandbox()) sandboxes.push_back(naming::netns(project, name));
    return true;
}

// Step 3, compare: the difference (within `focus`, when only part of the
// host was read), the checks against the host's facts, and the order the
// kernel accepts.
void compare(Kernel& kernel, const PlanInput& in, const std::optional<Focus>& focus, bool targeted, Computed& c) {
    const auto& project = c.desired.scope.project;
    if (in.project) check_references(*in.project, c, c.errors);
    if (in.project) check_encryption(kernel, *in.project, c, c.errors);
    auto d = (trace::Span("diff"), focus ? diff(focus->within(c.desired.state), focus->within(c.live))
                                         : diff(c.desired.state, c.live));
    c.errors.insert(c.errors.end(), d.conflicts.begin(), d.conflicts.end());
    if (targeted) refuse_network_changes(d.changes, c.errors);
    if (!in.force) refuse_busy_bridges(kernel, project, d.changes, c.errors);
    refuse_taken_ports(kernel, in.project, in.take_ports, d.changes, c.errors, c.plan.notes);
    c.plan.project = project;
    c.plan.host = in.host;
    trace::Span t("order plan");
    c.plan.changes = plan(std::move(d.changes));
}

// What a whole read (`seen`) lacks for `scope`, observed and added: the
// sysctls, and the files outside the directory the whole read listed.
void complete(Kernel& kernel, Observation& seen, const ReadScope& scope) {
    ReadScope rest;
    rest.project = scope.project;
    rest.only_sandboxes.emplace();
    rest.only_host_links.emplace();
    rest.nft = false;
    rest.sysctls = scope.sysctls;
    for (auto& f : scope.files)
        if (!f.starts_with(netns_files_root)) rest.files.push_back(f);
    if (rest.sysctls.empty() && rest.files.empty()) return;
    auto more = kernel.observe(rest);
    std::move(more.sysctls.begin(), more.sysctls.end(), std::back_inserter(seen.sysctls));
    std::move(more.files.begin(), more.files.end(), std::back_inserter(seen.files));
}

}  // namespace

Computed compute(Kernel& kernel, const PlanInput& in) {
    Computed c;
    std::optional<Observation> seen;
    if (!desire(kernel, in, {}, c, &seen)) return c;
    if (seen) {  // the host was read whole for the addresses: judged again, not read again
        trace::Span t("read live (rest)");
        complete(kernel, *seen, c.desired.scope);
        c.live = judge(std::move(*seen), c.desired.scope);
    } else {
        c.live = (trace::Span("read live (all)"), kernel.read(c.desired.scope));
    }
    compare(kernel, in, std::nullopt, false, c);
    return c;
}

Computed compute_since(Kernel& kernel, const PlanInput& in, const HostState& converged, const Focus& drifted) {
    Computed c;
    if (!desire(kernel, in, {}, c)) return c;
    // What the manifest changed since the last converged run, and what drifted.
    auto moved = (trace::Span("diff with converged"), diff(c.desired.state, converged).changes);
    Focus focus(moved);
    focus.merge(drifted);
    c.live = (trace::Span("read live (focus)"), kernel.read(focus.scope(c.desired.scope, c.desired.state, moved)));
    compare(kernel, in, focus, false, c);
    return c;
}

Computed compute_services(Kernel& kernel, const PlanInput& in, const std::set<std::string>& services) {
    if (services.empty()) return compute(kernel, in);
    Computed c;
    if (!desire(kernel, in, services, c) || !in.project) return c;
    auto focus = targeted_focus(*in.project, c.desired.state, services);
    c.live = (trace::Span("read live (services)"), kernel.read(focus.scope(c.desired.scope, c.desired.state, {})));
    keep_others_ports(c.desired.state, c.live, in.project->name, addresses_of(services, c.addressing, in.previous));
    compare(kernel, in, focus, true, c);
    return c;
}

std::vector<std::string> verify(Kernel& kernel, const Desired& desired, const std::vector<Change>* changes) {
    DiffResult d;
    if (!changes) {
        d = diff(desired.state, kernel.read(desired.scope));
    } else {
        // Only what the run touched: the rest was read a moment ago by the plan,
        // and at N=1000 sandboxes a second full read would double a small apply.
        Focus f(*changes);
        d = diff(f.within(desired.state), f.within(kernel.read(f.scope(desired.scope, desired.state, *changes))));
    }
    std::vector<std::string> out = d.conflicts;
    for (auto& ch : d.changes) {
        auto line = fmt::format("{} {} {}", to_string(ch.action), to_string(ch.kind()), ch.id());
        for (auto& f : ch.fields) line += " (" + f + ")";
        out.push_back(line);
    }
    return out;
}

namespace {
// A live object as topo would have set it: a veth's host end gets a random
// MAC from the kernel each time it is made, which nothing compares.
Object as_set(Object o) {
    if (auto* l = std::get_if<Link>(&o); l && l->kind == LinkKind::Veth) l->mac.reset();
    return o;
}
}  // namespace

std::vector<std::string> restored(Kernel& kernel, const Desired& desired, const std::vector<Change>& changes) {
    Focus f(changes);
    auto live = kernel.read(f.scope(desired.scope, desired.state, changes));
    std::vector<std::string> out;
    std::set<ObjectKey> seen;
    for (auto& c : changes) {
        auto key = key_of(c.object());
        if (!seen.insert(key).second) continue;
        auto* have = live.find(key);
        auto what = fmt::format("{} {}", to_string(key.kind), key.id);
        if (!c.before) {
            if (have) out.push_back(fmt::format("{}: left over (the run created it)", what));
            continue;
        }
        if (!have) {
            out.push_back(fmt::format("{}: missing (it was there before the run)", what));
            continue;
        }
        bool replace = false;
        auto fields = compare(as_set(*c.before), as_set(*have), replace);
        if (fields.size() > 8) {  // 60,000 port elements are not a message
            auto more = fields.size() - 8;
            fields.resize(8);
            fields.push_back(fmt::format("and {} more", more));
        }
        if (!fields.empty()) out.push_back(fmt::format("{}: {}", what, fmt::join(fields, ", ")));
    }
    return out;
}

}  // namespace topo
