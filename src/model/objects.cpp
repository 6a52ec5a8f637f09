// Kernel objects as values (model/objects.hpp): their keys, identities and
// one-line descriptions, and the names of kinds and actions.
#include "model/objects.hpp"

#include <fmt/format.h>

#include "model/change.hpp"
#include "model/project.hpp"

namespace topo {

const char* to_string(Kind k) {
    switch (k) {
        case Kind::Netns: return "netns";
        case Kind::Bridge: return "bridge";
        case Kind::Vxlan: return "vxlan";
        case Kind::Veth: return "veth";
        case Kind::Macvlan: return "macvlan";
        case Kind::Address: return "address";
        case Kind::Route: return "route";
        case Kind::Fdb: return "fdb";
        case Kind::Neigh: return "neigh";
        case Kind::Sysctl: return "sysctl";
        case Kind::NftTable: return "nft-table";
        case Kind::File: return "file";
    }
    return "?";
}

const char* to_string(Action a) {
    switch (a) {
        case Action::Create: return "create";
        case Action::Update: return "update";
        case Action::Delete: return "delete";
        case Action::Replace: return "replace";
    }
    return "?";
}

const char* to_string(Driver d) {
    switch (d) {
        case Driver::Bridge: return "bridge";
        case Driver::Macvlan: return "macvlan";
        case Driver::Overlay: return "overlay";
    }
    return "?";
}

const char* to_string(Protocol p) {
    switch (p) {
        case Protocol::Tcp: return "tcp";
        case Protocol::Udp: return "udp";
        case Protocol::Sctp: return "sctp";
    }
    return "?";
}

static std::string scoped(const std::string& ns, const std::string& name) {
    return ns.empty() ? name : ns + ":" + name;
}

namespace {
struct KindOf {
    Kind operator()(const Netns&) const { return Kind::Netns; }
    Kind operator()(const Link& l) const {
        switch (l.kind) {
            case LinkKind::Bridge: return Kind::Bridge;
            case LinkKind::Veth: return Kind::Veth;
            case LinkKind::Macvlan: return Kind::Macvlan;
            case LinkKind::Vxlan: return Kind::Vxlan;
        }
        return Kind::Bridge;
    }
    Kind operator()(const Address&) const { return Kind::Address; }
    Kind operator()(const Route&) const { return Kind::Route; }
    Kind operator()(const Fdb&) const { return Kind::Fdb; }
    Kind operator()(const Neigh&) const { return Kind::Neigh; }
    Kind operator()(const Sysctl&) const { return Kind::Sysctl; }
    Kind operator()(const File&) const { return Kind::File; }
    Kind operator()(const NftTable&) const { return Kind::NftTable; }
};

struct IdOf {
    std::string operator()(const Netns& n) const { return n.name; }
    std::string operator()(const Link& l) const { return scoped(l.ns, l.name); }
    std::string operator()(const Address& a) const {
        return scoped(a.ns, a.link) + " " + a.prefix.str();
    }
    std::string operator()(const Route& r) const {
        return scoped(r.ns, r.dst.len == 0 ? std::string(r.dst.addr.is_v4() ? "default" : "default6")
                                           : r.dst.str());
    }
    // Entries by concatenation: an overlay of 5,000 sandboxes has 15,000 of them.
    std::string operator()(const Fdb& f) const {
        return f.dev + ' ' + f.mac.str() + ' ' + (f.dst ? f.dst->str() : std::string("bridge"));
    }
    std::string operator()(const Neigh& n) const { return n.dev + ' ' + n.ip.str(); }
    std::string operator()(const Sysctl& s) const { return scoped(s.ns, s.key); }
    std::string operator()(const File& f) const { return f.path; }
    std::string operator()(const NftTable& t) const { return t.name; }
};

struct Describe {
    std::string operator()(const Netns&) const { return ""; }
    std::string operator()(const Link& l) const {
        std::string s;
        auto add = [&](const std::string& part) {
            if (!s.empty()) s += ", ";
            s += part;
        };
        if (l.peer) s = fmt::format("⇄ {}", scoped(l.peer->ns, l.peer->name));
        if (!l.master.empty()) add("master " + l.master);
        if (l.isolated.value_or(false)) add("isolated");
        if (l.port_learning && !*l.port_learning) add("port learning off");
        if (l.macvlan) add(fmt::format("on {} mode {}", l.macvlan->parent, l.macvlan->mode));
        if (l.vxlan) {
            add(fmt::format("vni {} port {}", l.vxlan->vni, l.vxlan->dstport));
            if (l.vxlan->local) add("local " + l.vxlan->local->str());
            if (!l.vxlan->underlay.empty()) add("dev " + l.vxlan->underlay);
        }
        if (l.mtu) add(fmt::format("mtu {}", *l.mtu));
        if (l.mac) add("mac " + l.mac->str());
        if (l.peer && l.peer->mac) add("peer mac " + l.peer->mac->str());
        return s;
    }
    std::string operator()(const Address&) const { return ""; }
    std::string operator()(const Route& r) const {
        std::string s = r.gateway ? "via " + r.gateway->str() : "";
        if (!r.dev.empty()) s += (s.empty() ? "dev " : " dev ") + r.dev;
        return s;
    }
    std::string operator()(const Fdb& f) const {
        if (!f.dst) return "the bridge's, to this port";
        return f.mac == Mac{} ? "broadcast to " + f.dst->str() : "to " + f.dst->str();
    }
    std::string operator()(const Neigh& n) const { return "lladdr " + n.mac.str(); }
    std::string operator()(const Sysctl& s) const { return "= " + s.value; }
    std::string operator()(const File& f) const {
        if (!f.link.empty()) return "→ " + f.link;
        return fmt::format("{} bytes", f.content.size());
    }
    std::string operator()(const NftTable& t) const {
        size_t elements = 0;
        for (auto& [_, s] : t.sets) elements += s.elements.size();
        return fmt::format("{} chains, {} rules, {} set elements", t.chains.size(), t.rules.size(), elements);
    }
};
}  // namespace

Kind kind_of(const Object& o) { return std::visit(KindOf{}, o); }
std::string id_of(const Object& o) { return std::visit(IdOf{}, o); }
std::string describe(const Object& o) { return std::visit(Describe{}, o); }
ObjectKey key_of(const Object& o) { return {kind_of(o), id_of(o)}; }

const std::string& namespace_of(const Object& o) {
    static const std::string host;
    if (auto* l = std::get_if<Link>(&o)) return l->ns;
    if (auto* a = std::get_if<Address>(&o)) return a->ns;
    if (auto* r = std::get_if<Route>(&o)) return r->ns;
    return host;
}

std::string link_under(const Object& o) {
    if (auto* a = std::get_if<Address>(&o)) return a->ns + ":" + a->link;
    if (auto* r = std::get_if<Route>(&o)) return r->ns + ":" + r->dev;
    if (auto* f = std::get_if<Fdb>(&o)) return ":" + f->dev;
    if (auto* n = std::get_if<Neigh>(&o)) return ":" + n->dev;
    return {};
}

void HostState::add(Object o) {
    auto k = key_of(o);
    objects.insert_or_assign(std::move(k), std::move(o));
}

const Object* HostState::find(const ObjectKey& k) const {
    auto it = objects.find(k);
    return it == objects.end() ? nullptr : &it->second;
}

Change Change::inverse() const {
    Change c = *this;
    std::swap(c.before, c.after);
    if (action == Action::Create) c.action = Action::Delete;
    else if (action == Action::Delete) c.action = Action::Create;
    return c;
}

}  // namespace topo
