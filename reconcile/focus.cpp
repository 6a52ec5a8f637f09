// Focus (reconcile/reconcile.hpp): the part of the host a run's changes, or
// the drift the watch heard of, can have touched, and the narrower read and
// comparison that cover just that part.
#include "reconcile/reconcile.hpp"

#include <set>
#include <string>
#include <vector>

namespace topo {

Focus::Focus(const std::vector<Change>& changes) {
    for (auto& c : changes)
        for (auto* o : {c.before ? &*c.before : nullptr, c.after ? &*c.after : nullptr}) {
            if (!o) continue;
            if (auto* n = std::get_if<Netns>(o)) sandboxes.insert(n->name);
            if (auto* l = std::get_if<Link>(o); l && l->peer) sandboxes.insert(l->peer->ns);
            if (auto* l = std::get_if<Link>(o); l && l->ns.empty()) host_links.insert(l->name);
            if (auto* a = std::get_if<Address>(o); a && a->ns.empty()) host_links.insert(a->link);
            if (auto* e = std::get_if<Fdb>(o)) add_entry(e->dev, e->mac, std::nullopt);
            if (auto* n = std::get_if<Neigh>(o)) add_entry(n->dev, std::nullopt, n->ip);
            if (auto* r = std::get_if<Route>(o); r && r->ns.empty()) {
                entry_routes.insert(key_of(*o));
                entry_devices.insert(r->dev);
            }
            if (auto* f = std::get_if<File>(o)) files.insert(f->path);
            if (std::holds_alternative<NftTable>(*o)) nft = true;
            if (const auto& ns = namespace_of(*o); !ns.empty()) sandboxes.insert(ns);
        }
}

void Focus::merge(const Focus& other) {
    entry_routes.insert(other.entry_routes.begin(), other.entry_routes.end());
    entry_devices.insert(other.entry_devices.begin(), other.entry_devices.end());
    for (auto& [dev, e] : other.entry_gets) {
        entry_gets[dev].forwarding.insert(e.forwarding.begin(), e.forwarding.end());
        entry_gets[dev].neighbours.insert(e.neighbours.begin(), e.neighbours.end());
    }
    sandboxes.insert(other.sandboxes.begin(), other.sandboxes.end());
    host_links.insert(other.host_links.begin(), other.host_links.end());
    files.insert(other.files.begin(), other.files.end());
    nft |= other.nft;
}

void Focus::add_host_link(const HostState& state, const std::string& name) {
    auto* veth = state.find_as<Link>(Kind::Veth, name);
    if (veth && veth->ns.empty() && veth->peer) sandboxes.insert(veth->peer->ns);
    else host_links.insert(name);
}

void Focus::add_entry(const std::string& dev, const std::optional<Mac>& mac, const std::optional<IpAddr>& ip) {
    entry_devices.insert(dev);
    auto& e = entry_gets[dev];
    if (mac) e.forwarding.insert(*mac);
    if (ip) e.neighbours.insert(*ip);
}

bool Focus::covers_entry(const std::string& dev, const std::optional<Mac>& mac, const std::optional<IpAddr>& ip) const {
    if (host_links.count(dev)) return true;
    auto it = entry_gets.find(dev);
    if (it == entry_gets.end()) return false;
    return mac ? it->second.forwarding.count(*mac) > 0 : ip && it->second.neighbours.count(*ip) > 0;
}

bool Focus::covers(const Object& o, const ObjectKey* key) const {
    if (auto* f = std::get_if<File>(&o)) return files.count(f->path);
    if (std::holds_alternative<NftTable>(o)) return nft;
    if (auto* n = std::get_if<Netns>(&o)) return sandboxes.count(n->name);
    if (auto* l = std::get_if<Link>(&o); l && l->ns.empty()) {
        // A host end of a veth is read whole only with the sandbox of its
        // other end (without it, the kernel's answer has no peer at all).
        if (l->kind == LinkKind::Veth) return l->peer && sandboxes.count(l->peer->ns) > 0;
        return host_links.count(l->name) > 0;
    }
    if (auto* a = std::get_if<Address>(&o); a && a->ns.empty()) return host_links.count(a->link) > 0;
    if (auto* e = std::get_if<Fdb>(&o)) return covers_entry(e->dev, e->mac, std::nullopt);
    if (auto* n = std::get_if<Neigh>(&o)) return covers_entry(n->dev, std::nullopt, n->ip);
    if (auto* r = std::get_if<Route>(&o); r && r->ns.empty())
        return host_links.count(r->dev) || entry_routes.count(key ? *key : key_of(o));
    const auto& ns = namespace_of(o);
    return ns.empty() || sandboxes.count(ns);
}

// The key order within() and scope() rely on: links together, the entries together.
static_assert(Kind::Bridge < Kind::Vxlan && Kind::Vxlan < Kind::Veth && Kind::Veth < Kind::Macvlan &&
              Kind::Macvlan < Kind::Address && Kind(int(Kind::Fdb) + 1) == Kind::Neigh &&
              Kind(int(Kind::Neigh) + 1) == Kind::Sysctl);

HostState Focus::within(const HostState& s) const {
    HostState out;
    auto& objects = s.objects;
    auto keep = [&](auto it) { out.objects.emplace_hint(out.objects.end(), it->first, it->second); };
    // Forwarding and neighbour entries are the bulk of an overlay host (15,000
    // at 100 hosts) and a focus names a few: they are looked up by key (an
    // entry's id begins with its device, then its MAC or address), the rest
    // walked.
    auto entries = objects.lower_bound(ObjectKey{Kind::Fdb, ""});
    auto after = objects.lower_bound(ObjectKey{Kind::Sysctl, ""});
    for (auto it = objects.begin(); it != entries; ++it)
        if (covers(it->second, &it->first)) keep(it);
    auto range = [&](Kind kind, const std::string& prefix) {
        for (auto it = objects.lower_bound(ObjectKey{kind, prefix});
             it != after && it->first.kind == kind && it->first.id.starts_with(prefix); ++it)
            out.objects.emplace(it->first, it->second);
    };
    std::set<std::string> devices = entry_devices;
    for (auto& [dev, _] : entry_gets) devices.insert(dev);
    for (auto& dev : host_links) devices.insert(dev);
    for (auto& dev : devices) {
        if (host_links.count(dev)) {  // all of its entries
            range(Kind::Fdb, dev + ' ');
            range(Kind::Neigh, dev + ' ');
            continue;
        }
        auto it = entry_gets.find(dev);
        if (it == entry_gets.end()) continue;
        for (auto& mac : it->second.forwarding) range(Kind::Fdb, dev + ' ' + mac.str() + ' ');
        for (auto& ip : it->second.neighbours)
            if (auto n = objects.find(ObjectKey{Kind::Neigh, dev + ' ' + ip.str()}); n != objects.end())
                out.objects.emplace(n->first, n->second);
    }
    for (auto it = after; it != objects.end(); ++it)
        if (covers(it->second, &it->first)) keep(it);
    return out;
}

ReadScope Focus::scope(const ReadScope& base, const HostState& desired, const std::vector<Change>& changes) const {
    ReadScope out = base;
    out.only_sandboxes = sandboxes;
    std::set<std::string> links = host_links, wanted;
    links.insert(entry_devices.begin(), entry_devices.end());  // a device's entries are read with it
    auto add = [&](const Object& o) {
        auto* l = std::get_if<Link>(&o);
        if (!l || !l->ns.empty()) return;
        wanted.insert(l->name);
        if (covers(o)) links.insert(l->name);
    };
    // Links only (kinds Bridge to Macvlan, in key order): not the entries.
    for (auto it = desired.objects.lower_bound(ObjectKey{Kind::Bridge, ""});
         it != desired.objects.end() && it->first.kind < Kind::Address; ++it)
        add(it->second);
    for (auto& c : changes)
        if (c.before) add(*c.before);
    // Links that are not topo's are read too: the manifest's references to
    // them (an external bridge, a macvlan parent) are checked. (The scope
    // also names every link topo wants, to find a name taken by another;
    // those outside the focus were checked when they were made.)
    for (auto& name : base.foreign_links)
        if (!wanted.count(name)) links.insert(name);
    out.only_host_links = std::move(links);
    // A device's entries one by one, unless it is read whole or an all-zero
    // MAC is among them (a get answers with one of its destinations, one per host).
    for (auto& [dev, e] : entry_gets)
        if (!host_links.count(dev) && !e.forwarding.count(Mac{})) out.only_entries.emplace(dev, e);
    out.files.assign(files.begin(), files.end());
    out.nft = nft;
    return out;
}

}  // namespace topo
