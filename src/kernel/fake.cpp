// FakeKernel and DryRunKernel (kernel/fake.hpp): an in-memory host that
// refuses and removes what the kernel would, for the unit tests.
#include "kernel/fake.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "model/naming.hpp"
#include "model/ownership.hpp"

namespace topo {

namespace {

std::string owner_of(const Object& o) {
    if (auto* l = std::get_if<Link>(&o)) return l->owner;
    if (auto* n = std::get_if<Netns>(&o)) return n->owner;
    return {};
}

}  // namespace

// As the real reader (kernel/read.cpp), by the same rules (model/ownership.hpp):
// the state holds every object with the marker it carries, and the read
// decides whose each is.
HostState FakeKernel::read(const ReadScope& scope) {
    HostState out;
    const auto& project = scope.project;
    std::set<std::string> ns_ours, links_ours;
    auto in_list = [](const std::vector<std::string>& v, const std::string& x) {
        return std::find(v.begin(), v.end(), x) != v.end();
    };
    auto skipped = [&](const Object& o) {
        if (!scope.only_sandboxes) return false;
        auto* n = std::get_if<Netns>(&o);
        auto ns = n ? n->name : namespace_of(o);
        return !ns.empty() && !scope.only_sandboxes->count(ns);
    };
    // Host links asked for by name: those, and the bridges and parents they name.
    std::set<std::string> host_links;
    if (scope.only_host_links) {
        host_links = *scope.only_host_links;
        for (auto& [k, o] : state.objects)
            if (auto* l = std::get_if<Link>(&o); l && l->ns.empty() && scope.only_host_links->count(l->name)) {
                if (!l->master.empty()) host_links.insert(l->master);
                if (!l->parent.empty()) host_links.insert(l->parent);
            }
    }
    for (auto& [k, o] : state.objects)
        if (auto* n = std::get_if<Netns>(&o); n && n->name.starts_with(project + "-") && !skipped(o)) {
            auto owner = ownership::sandbox(n->owner, project, in_list(scope.sandboxes, n->name));
            if (!owner) continue;
            out.add(Netns{n->name, *owner});
            if (!owner->empty()) ns_ours.insert(n->name);
        }
    for (auto& [k, o] : state.objects) {
        auto* l = std::get_if<Link>(&o);
        if (!l || skipped(o)) continue;
        Link link = *l;
        if (l->ns.empty()) {
            if (scope.only_host_links && !host_links.count(l->name)) continue;
            auto owner = ownership::host_link(l->owner, l->name, l->mac, project, in_list(scope.foreign_links, l->name));
            if (!owner) continue;
            link.owner = *owner;
        } else if (!ns_ours.count(l->ns)) {
            continue;  // in a namespace that is not the project's, or not read
        }
        links_ours.insert(l->ns + ":" + l->name);
        if (!l->peer_name.empty()) links_ours.insert(l->peer_ns + ":" + l->peer_name);
        if (!l->peer_ns.empty() && !ns_ours.count(l->peer_ns)) {
            // As the kernel: a veth whose other end is in an unread namespace shows no peer.
            link.peer_ns.clear(), link.peer_name.clear(), link.peer_owner.clear(), link.peer_mac.reset();
        }
        out.add(std::move(link));
    }
    for (auto& [k, o] : state.objects) {
        if (skipped(o)) continue;
        if (auto* a = std::get_if<Address>(&o)) {
            if (links_ours.count(a->ns + ":" + a->link) || ns_ours.count(a->ns)) out.add(o);
        } else if (auto* r = std::get_if<Route>(&o)) {
            if (ns_ours.count(r->ns)) out.add(o);
        } else if (auto* f = std::get_if<File>(&o)) {
            // The files asked for, and (on a read of all of it) those in the project's directories.
            bool wanted = in_list(scope.files, f->path);
            bool looked = !scope.only_sandboxes && f->path.starts_with("/etc/netns/" + project + "-");
            looked |= !scope.only_sandboxes && f->path.starts_with("/etc/netns/" + naming::shared_files_dir(project) + "/");
            if (!wanted && !looked) continue;
            if (auto owner = ownership::file(f->content.str(), f->link, project, wanted))
                out.add(File{f->path, f->content, f->link, *owner});
        } else if (auto* s = std::get_if<Sysctl>(&o)) {
            if (in_list(scope.sysctls, s->key)) out.add(o);
        } else if (auto* t = std::get_if<NftTable>(&o)) {
            if (!scope.nft || t->name != naming::nft_table(project)) continue;
            NftTable table = *t;
            table.owner = ownership::table(t->owner, project);
            out.add(std::move(table));
        }
    }
    return out;
}

void FakeKernel::remove(const Object& o) {
    auto key = key_of(o);
    state.objects.erase(key);
    std::set<std::string> gone_links;
    std::string gone_ns;
    if (auto* n = std::get_if<Netns>(&o)) gone_ns = n->name;
    if (auto* l = std::get_if<Link>(&o)) {
        gone_links.insert(l->ns + ":" + l->name);
        if (!l->peer_name.empty()) gone_links.insert(l->peer_ns + ":" + l->peer_name);
    }
    // As the kernel does: a route through a gateway that no address of its
    // device reaches any more goes with the address that reached it.
    auto* gone_addr = std::get_if<Address>(&o);
    auto reached = [&](const Route& r) {
        for (auto& [k, x] : state.objects)
            if (auto* a = std::get_if<Address>(&x); a && a->ns == r.ns && a->link == r.dev &&
                                                     a->prefix.network().contains(*r.gateway))
                return true;
        return false;
    };
    std::erase_if(state.objects, [&](const auto& kv) {
        const Object& x = kv.second;
        if (auto* r = std::get_if<Route>(&x); r && gone_addr && r->gateway && r->ns == gone_addr->ns &&
                                              r->dev == gone_addr->link && !reached(*r))
            return true;
        if (!gone_ns.empty() && namespace_of(x) == gone_ns) return true;
        // As the kernel does: a veth goes with the namespace of its other end.
        if (auto* l = std::get_if<Link>(&x); l && !gone_ns.empty() && l->peer_ns == gone_ns) return true;
        if (auto* a = std::get_if<Address>(&x)) return gone_links.count(a->ns + ":" + a->link) > 0;
        if (auto* r = std::get_if<Route>(&x)) return gone_links.count(r->ns + ":" + r->dev) > 0;
        return false;
    });
}

// What the real kernel refuses, refused here too, so that a plan the kernel
// would reject fails the unit tests: a name in use, a link on a missing
// master or in a missing namespace, an address on a missing link, a route
// through a gateway that no address of its device reaches, IPv6 on a link
// whose MTU is below 1280.
std::string FakeKernel::refusal(const Object& o) const {
    auto links_named = [&](const std::string& ns, const std::string& name) {
        const Link* found = nullptr;
        for (auto& [k, x] : state.objects)
            if (auto* l = std::get_if<Link>(&x)) {
                if (l->ns == ns && l->name == name) found = l;
                if (!l->peer_name.empty() && l->peer_ns == ns && l->peer_name == name) found = l;
            }
        return found;
    };
    auto ns_missing = [&](const std::string& ns) { return !ns.empty() && !state.find(ObjectKey{Kind::Netns, ns}); };
    if (auto* l = std::get_if<Link>(&o)) {
        if (ns_missing(l->ns) || (!l->peer_ns.empty() && ns_missing(l->peer_ns))) return "No such file or directory";
        if (links_named(l->ns, l->name) || (!l->peer_name.empty() && links_named(l->peer_ns, l->peer_name)))
            return "File exists";
        if (!l->master.empty() && !links_named(l->ns, l->master)) return "No such device";
    }
    if (auto* a = std::get_if<Address>(&o)) {
        auto* l = links_named(a->ns, a->link);
        if (!l) return "No such device";
        if (!a->prefix.addr.is_v4() && l->mtu && *l->mtu < 1280) return "Invalid argument (IPv6 needs an MTU of 1280)";
    }
    if (auto* r = std::get_if<Route>(&o)) {
        if (!links_named(r->ns, r->dev)) return "No such device";
        bool reached = !r->gateway;
        for (auto& [k, x] : state.objects)
            if (auto* a = std::get_if<Address>(&x); a && a->ns == r->ns && a->link == r->dev && r->gateway)
                reached = reached || a->prefix.network().contains(*r->gateway);
        if (!reached) return "Network is unreachable";
    }
    return {};
}

void FakeKernel::apply(const Change& c) {
    size_t op = ops_++;
    auto what = fmt::format("{} {}", to_string(c.kind()), c.id());
    if (fail_at && op == *fail_at)
        throw KernelError(fmt::format("{}: {}: Invalid argument (injected)", what, to_string(c.action)));
    auto create = [&](const Object& o) {
        if (state.find(key_of(o))) throw KernelError(fmt::format("{}: create: File exists", what));
        if (auto why = refusal(o); !why.empty()) throw KernelError(fmt::format("{}: create: {}", what, why));
        state.add(o);
    };
    auto exists = [&](const Object& o, const char* step) {
        if (!state.find(key_of(o))) throw KernelError(fmt::format("{}: {}: No such device or address", what, step));
    };
    log.push_back(c);
    switch (c.action) {
        case Action::Create: create(*c.after); break;
        case Action::Delete:
            exists(*c.before, "delete");
            remove(*c.before);
            break;
        case Action::Update:
            exists(*c.before, "change");
            state.add(*c.after);
            break;
        case Action::Replace:
            // The executor sends a replacement as its delete half, then a create.
            exists(*c.before, "delete");
            remove(*c.before);
            create(*c.after);
            break;
    }
}

std::map<std::string, std::vector<Process>> FakeKernel::processes(const std::vector<std::string>& sandboxes) {
    std::map<std::string, std::vector<Process>> out;
    for (auto& s : sandboxes)
        if (auto it = running.find(s); it != running.end() && !it->second.empty()) out[s] = it->second;
    return out;
}

void FakeKernel::signal(const Process& p, int) {
    for (auto& [ns, ps] : running) std::erase_if(ps, [&](const Process& x) { return x.pid == p.pid; });
}

std::optional<BridgeFacts> FakeKernel::bridge_facts(const std::string& name) {
    auto it = bridges.find(name);
    if (it == bridges.end()) return std::nullopt;
    auto facts = it->second;
    // Its ports as the fake host has them: veths whose master it is.
    for (auto& [k, o] : state.objects)
        if (auto* l = std::get_if<Link>(&o); l && l->ns.empty() && l->master == name) facts.ports.push_back({l->name, l->owner});
    return facts;
}

std::vector<std::string> FakeKernel::projects() {
    std::set<std::string> names;
    for (auto& [k, o] : state.objects) {
        if (auto m = naming::Marker::parse(owner_of(o))) names.insert(m->project);
    }
    return {names.begin(), names.end()};
}

}  // namespace topo
