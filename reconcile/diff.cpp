// diff(desired, live) → changes (reconcile/diff.hpp): field by field, what
// is not topo's as a conflict, and what goes along with a deletion.
#include "reconcile/diff.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iterator>
#include <map>
#include <set>

namespace topo {

namespace {

template <class T>
std::string show(const std::optional<T>& v) {
    if (!v) return "unset";
    if constexpr (std::is_arithmetic_v<T>) return std::to_string(*v);
    else return v->str();
}

struct Fields {
    std::vector<std::string> out;
    bool replace = false;

    template <class T>
    void opt(const char* name, const std::optional<T>& want, const std::optional<T>& have,
             bool in_place = true) {
        if (want && want != have) add(name, show(have), show(want), in_place);
    }
    void str(const char* name, const std::string& want, const std::string& have,
             bool in_place = true) {
        if (want != have)
            add(name, have.empty() ? "none" : have, want.empty() ? "none" : want, in_place);
    }
    void add(const char* name, const std::string& from, const std::string& to, bool in_place) {
        out.push_back(fmt::format("{} {} → {}", name, from, to));
        if (!in_place) replace = true;
    }
};

void compare_link(const Link& d, const Link& l, Fields& f) {
    if (d.kind != l.kind) f.add("kind", "other", "new", false);
    f.opt("mtu", d.mtu, l.mtu);
    f.opt("mac", d.mac, l.mac);
    f.str("master", d.master, l.master);
    // A kernel that does not report the flag (before 4.18) has no isolated ports.
    if (d.isolated && *d.isolated != l.isolated.value_or(false)) {
        auto onoff = [](const std::optional<bool>& b) { return b ? (*b ? "on" : "off") : "unset"; };
        f.add("isolated", onoff(l.isolated), onoff(d.isolated), true);
    }
    if (d.port_learning && *d.port_learning != l.port_learning.value_or(true)) {
        auto onoff = [](bool b) { return b ? "on" : "off"; };
        f.add("port learning", onoff(l.port_learning.value_or(true)), onoff(*d.port_learning), true);
    }
    if (d.up != l.up) f.add("state", l.up ? "up" : "down", d.up ? "up" : "down", true);
    f.str("marker", d.owner, l.owner);
    if (d.peer) {
        Veth none;
        const Veth& p = *d.peer;
        const Veth& h = l.peer ? *l.peer : none;
        if (p.ns != h.ns || p.name != h.name) f.add("peer", h.ns + ":" + h.name, p.ns + ":" + p.name, false);
        // A peer's MAC follows its address (02:42:<IPv4>): changed in place, so a
        // subnet change keeps the sandbox's interface and what listens on it.
        f.opt("peer mac", p.mac, h.mac);
        if (p.up != h.up) f.add("peer state", h.up ? "up" : "down", p.up ? "up" : "down", true);
        f.str("peer marker", p.owner, h.owner, false);
    }
    if (d.macvlan) {  // fixed at creation: a macvlan link is replaced to change one
        Macvlan none;
        const auto& h = l.macvlan ? *l.macvlan : none;
        f.str("parent", d.macvlan->parent, h.parent, false);
        f.str("mode", d.macvlan->mode, h.mode, false);
    }
    if (d.vxlan) {
        // Each is fixed at creation: a VXLAN device is replaced to change one.
        Vxlan none;
        const auto& h = l.vxlan ? *l.vxlan : none;
        auto num = [&](const char* name, auto want, auto have) {
            if (want != have) f.add(name, std::to_string(have), std::to_string(want), false);
        };
        num("vni", d.vxlan->vni, h.vni);
        num("dstport", d.vxlan->dstport, h.dstport);
        f.opt("local", d.vxlan->local, h.local, false);
        if (!d.vxlan->underlay.empty()) f.str("underlay", d.vxlan->underlay, h.underlay, false);
        auto onoff = [&](const char* name, bool want, bool have) {
            if (want != have) f.add(name, have ? "on" : "off", want ? "on" : "off", false);
        };
        onoff("learning", d.vxlan->learning, h.learning);
        onoff("proxy", d.vxlan->proxy, h.proxy);
    }
}

struct Compare {
    Fields& f;
    const Object& live;
    void operator()(const Netns& d) { f.str("marker", d.owner, std::get<Netns>(live).owner, false); }
    void operator()(const Link& d) { compare_link(d, std::get<Link>(live), f); }
    void operator()(const Address& d) {  // identity is the whole address, but for its subnet's route
        if (d.subnet_route != std::get<Address>(live).subnet_route) f.add("subnet route", "gone", "made again", false);
    }
    void operator()(const Route& d) {
        auto& l = std::get<Route>(live);
        f.opt("via", d.gateway, l.gateway, false);
        f.str("dev", d.dev, l.dev, false);
    }
    void operator()(const Fdb&) {}  // identity is the whole entry
    void operator()(const Neigh& d) { f.opt("lladdr", std::optional(d.mac), std::optional(std::get<Neigh>(live).mac)); }
    void operator()(const Sysctl& d) { f.str("value", d.value, std::get<Sysctl>(live).value); }
    void operator()(const File& d) {
        auto& l = std::get<File>(live);
        if (d.link != l.link) f.add("link", l.link.empty() ? "file" : l.link, d.link.empty() ? "file" : d.link, true);
        else if (d.content != l.content) f.add("content", "old", "new", true);
    }
    void operator()(const NftTable& d) {
        auto& l = std::get<NftTable>(live);
        if (d.skeleton() != l.skeleton()) f.add("chains and rules", "differ", "rewritten", true);
        for (auto& e : element_diff(d, l)) {
            if (is_slotted(d, l, e.set)) {
                balanced(e.set, d, l);
                continue;
            }
            for (auto& x : e.add) f.out.push_back(fmt::format("+ {} {}", e.set, x));
            for (auto& x : e.remove) f.out.push_back(fmt::format("- {} {}", e.set, x));
        }
    }

    // A map of slots, in the desired table or (going away) the live one.
    static bool is_slotted(const NftTable& d, const NftTable& l, const std::string& set) {
        for (auto* t : {&d, &l})
            if (auto it = t->sets.find(set); it != t->sets.end() && !it->second.elements.empty())
                return PortElement::parse(*it->second.elements.begin()).value_or(PortElement{}).slot.has_value();
        return false;
    }

    // A replicated port's slots, said as the replicas behind it: "balanced
    // tcp 8080 → 80: 3 → 5 replicas (+ 10.0.0.6, 10.0.0.7)", one line per port.
    void balanced(const std::string& set, const NftTable& d, const NftTable& l) {
        using Behind = std::map<std::string, std::set<IpAddr>>;  // "[host ]proto port → target" → addresses
        auto behind = [&](const NftTable& t) {
            Behind out;
            if (auto it = t.sets.find(set); it != t.sets.end())
                for (auto& text : it->second.elements)
                    if (auto e = PortElement::parse(text)) {
                        auto key = fmt::format("{}{} {} → {}", e->host_ip ? e->host_ip->str() + " " : "", e->protocol, e->port, e->target);
                        out[key].insert(e->address);
                    }
            return out;
        };
        auto want = behind(d), have = behind(l);
        std::set<std::string> keys;
        for (auto* m : {&want, &have})
            for (auto& [k, _] : *m) keys.insert(k);
        for (auto& k : keys) {
            auto& w = want[k];
            auto& h = have[k];
            if (w == h) continue;
            std::vector<std::string> plus, minus;
            for (auto& a : w)
                if (!h.count(a)) plus.push_back(a.str());
            for (auto& a : h)
                if (!w.count(a)) minus.push_back(a.str());
            std::string which;
            if (!plus.empty()) which += fmt::format("+ {}", fmt::join(plus, ", "));
            if (!minus.empty()) which += fmt::format("{}- {}", which.empty() ? "" : "; ", fmt::join(minus, ", "));
            f.out.push_back(fmt::format("{} {}: {} → {} replicas{}", set, k, h.size(), w.size(),
                                        which.empty() ? " (the same, in other slots)" : " (" + which + ")"));
        }
    }
};

// Whose is this live object? Links, namespaces, the nft table and files carry
// a marker; addresses and routes were only read because they sit on topo's objects.
bool is_ours(const Object& o) {
    if (auto* l = std::get_if<Link>(&o)) return !l->owner.empty();
    if (auto* n = std::get_if<Netns>(&o)) return !n->owner.empty();
    if (auto* t = std::get_if<NftTable>(&o)) return !t->owner.empty();
    if (auto* f = std::get_if<File>(&o)) return !f->owner.empty();
    return true;
}

// What goes when a link or a namespace goes: "ns:link" (addresses and routes
// on it) or "ns:" (everything in it).
void add_gone_scopes(const Object& o, std::set<std::string>& gone) {
    if (auto* n = std::get_if<Netns>(&o)) gone.insert(n->name + ":");
    if (auto* l = std::get_if<Link>(&o)) {
        gone.insert(l->ns + ":" + l->name);
        if (l->peer) gone.insert(l->peer->ns + ":" + l->peer->name);
    }
}

// The desired objects that a gone scope takes with it, found by their ids'
// prefixes (a removed service must not cost a walk over every sandbox's
// objects): a link's addresses and routes, or all of a namespace.
template <class F>
void for_each_along(const HostState& desired, const std::string& scope, F&& f) {
    auto colon = scope.find(':');
    auto ns = scope.substr(0, colon), link = scope.substr(colon + 1);
    auto walk = [&](Kind k, const std::string& prefix, auto&& keep) {
        for (auto it = desired.objects.lower_bound({k, prefix});
             it != desired.objects.end() && it->first.kind == k && it->first.id.starts_with(prefix); ++it)
            if (keep(it->second)) f(it->first, it->second);
    };
    auto all = [](const Object&) { return true; };
    if (link.empty()) {  // a namespace: everything in it, and the veths that end in it
        for (Kind k : {Kind::Veth, Kind::Macvlan, Kind::Bridge, Kind::Address, Kind::Route, Kind::Sysctl})
            walk(k, ns + ":", all);
        walk(Kind::Veth, "", [&](const Object& o) {
            auto& peer = std::get<Link>(o).peer;
            return peer && peer->ns == ns;
        });
        return;
    }
    walk(Kind::Address, (ns.empty() ? link : scope) + " ", all);
    if (ns.empty())
        for (Kind k : {Kind::Fdb, Kind::Neigh}) walk(k, link + " ", all);
    if (!ns.empty()) walk(Kind::Route, ns + ":", [&](const Object& o) { return std::get<Route>(o).dev == link; });
}

// An object that stays, on a link or in a namespace that this run deletes
// (a veth renamed with its network, whose sandbox end keeps its name) or
// replaces, vanishes with it: it is replaced too, so it is created again
// after its link and, on rollback, comes back with the old one. An update
// of such an object becomes a replacement; one that is already replaced
// needs nothing more (its creation comes after its link's).
void recreate_what_goes_along(const HostState& desired, const HostState& live, DiffResult& r) {
    std::set<std::string> gone;
    std::vector<const Address*> gone_addresses;
    for (auto& c : r.changes)
        if (c.before && (c.action == Action::Delete || c.action == Action::Replace)) {
            add_gone_scopes(*c.before, gone);
            if (auto* a = std::get_if<Address>(&*c.before); a && !a->ns.empty()) gone_addresses.push_back(a);
        }
    if (gone.empty() && gone_addresses.empty()) return;
    std::map<ObjectKey, Change*> changed;
    for (auto& c : r.changes) changed.emplace(key_of(c.object()), &c);
    std::vector<Change> more;
    std::set<ObjectKey> done;
    auto along = [&](const ObjectKey& key, const Object& want) {
        if (!done.insert(key).second) return;
        if (auto it = changed.find(key); it != changed.end()) {
            if (it->second->action == Action::Update) {
                it->second->action = Action::Replace;
                if (it->second->reason.empty()) it->second->reason = "what it sits on is replaced";
            }
            return;
        }
        if (auto* have = live.find(key)) more.push_back({Action::Replace, *have, want, {}, "what it sits on is replaced"});
    };
    for (auto& scope : gone) for_each_along(desired, scope, along);
    // A route through a gateway that only a removed address reached goes with
    // that address (the kernel flushes it with the address's prefix route):
    // a sandbox whose address changes within its subnet gets its route again.
    for (auto* a : gone_addresses) {
        auto net = a->prefix.network();
        for (auto it = desired.objects.lower_bound({Kind::Route, a->ns + ":"});
             it != desired.objects.end() && it->first.kind == Kind::Route && it->first.id.starts_with(a->ns + ":"); ++it) {
            auto& rt = std::get<Route>(it->second);
            if (rt.dev == a->link && rt.gateway && net.contains(*rt.gateway)) along(it->first, it->second);
        }
    }
    std::move(more.begin(), more.end(), std::back_inserter(r.changes));
}

}  // namespace

std::vector<std::string> compare(const Object& desired, const Object& live, bool& replace) {
    Fields f;
    std::visit(Compare{f, live}, desired);
    replace = f.replace;
    return f.out;
}

DiffResult diff(const HostState& desired, const HostState& live) {
    DiffResult r;
    r.conflicts = live.conflicts;
    std::vector<Change> deletes;
    auto compare_pair = [&](const ObjectKey& key, const Object& want, const Object& have) {
        if (!is_ours(have)) {
            r.conflicts.push_back(fmt::format(
                "{} {} exists and is not topo's; topo never changes what it did not create: "
                "rename or remove it, or choose another name in the manifest",
                to_string(key.kind), key.id));
            return;
        }
        bool replace = false;
        auto fields = compare(want, have, replace);
        if (fields.empty()) return;
        r.changes.push_back({replace ? Action::Replace : Action::Update, have, want, fields, {}});
    };
    // Both maps are in key order: one walk through the two side by side
    // (a lookup per object cost a plan of 1000 sandboxes ~2 ms of string
    // comparisons). Creates and updates come in the desired state's order,
    // deletes after them in the live state's.
    auto d = desired.objects.begin(), l = live.objects.begin();
    while (d != desired.objects.end() || l != live.objects.end()) {
        if (l == live.objects.end() || (d != desired.objects.end() && d->first < l->first)) {
            r.changes.push_back({Action::Create, std::nullopt, d->second, {}, {}});
            ++d;
        } else if (d == desired.objects.end() || l->first < d->first) {
            // A sysctl is never "deleted": topo leaves a value it set (forwarding may serve others).
            if (is_ours(l->second) && !std::holds_alternative<Sysctl>(l->second))
                deletes.push_back({Action::Delete, l->second, std::nullopt, {}, {}});
            ++l;
        } else {
            compare_pair(d->first, d->second, l->second);
            ++d, ++l;
        }
    }
    std::move(deletes.begin(), deletes.end(), std::back_inserter(r.changes));
    recreate_what_goes_along(desired, live, r);
    return r;
}

}  // namespace topo
