// FakeKernel and DryRunKernel (kernel/fake.hpp): an in-memory host that
// refuses and removes what the kernel would, for the unit tests.
#include "kernel/fake.hpp"
#include "kernel/paper.hpp"

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

// What the real observer (kernel/read.cpp) would see on a host holding
// `state`: the judging (model/observation.hpp) is the same for both. The
// fake models no directories, so none are seen.
Observation FakeKernel::observe(const ReadScope& scope) {
    Observation seen;
    if (!scope.only_sandboxes) ++whole_observations;
    std::map<std::string, size_t> sandboxes;
    for (auto& [k, o] : state.objects)
        if (auto* n = std::get_if<Netns>(&o)) {
            sandboxes[n->name] = seen.sandboxes.size();
            seen.sandboxes.push_back({n->name, false, n->owner, {}, {}, {}});
        }
    auto sandbox = [&](const std::string& ns) -> Observation::Sandbox* {
        auto it = sandboxes.find(ns);
        return it == sandboxes.end() ? nullptr : &seen.sandboxes[it->second];
    };
    for (auto& [k, o] : state.objects) {
        if (auto* l = std::get_if<Link>(&o)) {
            if (!l->ns.empty()) {
                if (auto* sb = sandbox(l->ns)) sb->links.push_back(*l);
                continue;
            }
            Link host = *l;
            host.peer.reset();
            seen.host_links.push_back(std::move(host));
            // A veth's other end is seen in its namespace, naming this end.
            if (auto* sb = l->peer ? sandbox(l->peer->ns) : nullptr) {
                const Veth& p = *l->peer;
                Link end;
                end.kind = LinkKind::Veth;
                end.ns = p.ns;
                end.name = p.name;
                end.owner = p.owner;
                end.mac = p.mac;
                end.up = p.up;
                end.peer.emplace().name = l->name;
                sb->links.push_back(std::move(end));
            }
        } else if (auto* a = std::get_if<Address>(&o)) {
            if (a->ns.empty()) seen.host_addresses.push_back(*a);
            else if (auto* sb = sandbox(a->ns)) sb->addresses.push_back(*a);
        } else if (auto* r = std::get_if<Route>(&o)) {
            if (r->ns.empty()) seen.host_routes.push_back(*r);
            else if (auto* sb = sandbox(r->ns)) sb->routes.push_back(*r);
        } else if (auto* e = std::get_if<Fdb>(&o)) {
            seen.fdb.push_back(*e);
        } else if (auto* n = std::get_if<Neigh>(&o)) {
            seen.neighbours.push_back(*n);
        } else if (auto* f = std::get_if<File>(&o)) {
            seen.files.push_back(File{f->path, f->content, f->link, ""});
        } else if (auto* s = std::get_if<Sysctl>(&o)) {
            seen.sysctls.push_back(*s);
        } else if (auto* t = std::get_if<NftTable>(&o)) {
            if (t->name == naming::nft_table(scope.project)) seen.table = *t;
        }
    }
    // A sysctl the fake was never told of reads as the kernel's would: every
    // key exists with its default ("0"), but a device's (conf/<dev>/…) only
    // while the device does ("" before, as the real read gives for a missing
    // file). So a plan sets one in place, as on a real host, never creates it.
    std::set<std::string> held;
    for (auto& s : seen.sysctls) held.insert(s.key);
    for (auto& key : scope.sysctls)
        if (!held.count(key)) seen.sysctls.push_back(Sysctl{"", key, default_sysctl(key)});
    seen.listed = true;
    return seen;
}

void FakeKernel::remove(const Object& o) {
    auto key = key_of(o);
    state.objects.erase(key);
    std::set<std::string> gone_links;
    std::string gone_ns;
    if (auto* n = std::get_if<Netns>(&o)) gone_ns = n->name;
    if (auto* l = std::get_if<Link>(&o)) {
        gone_links.insert(l->ns + ":" + l->name);
        if (l->peer) gone_links.insert(l->peer->ns + ":" + l->peer->name);
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
        if (auto* l = std::get_if<Link>(&x); l && l->peer && !gone_ns.empty() && l->peer->ns == gone_ns) return true;
        if (auto link = link_under(x); !link.empty()) return gone_links.count(link) > 0;
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
                if (l->peer && l->peer->ns == ns && l->peer->name == name) found = l;
            }
        return found;
    };
    auto ns_missing = [&](const std::string& ns) { return !ns.empty() && !state.find(ObjectKey{Kind::Netns, ns}); };
    if (auto* l = std::get_if<Link>(&o)) {
        if (ns_missing(l->ns) || (l->peer && ns_missing(l->peer->ns))) return "No such file or directory";
        if (links_named(l->ns, l->name) || (l->peer && links_named(l->peer->ns, l->peer->name))) return "File exists";
        if (!l->master.empty() && !links_named(l->ns, l->master)) return "No such device";
    }
    if (auto* a = std::get_if<Address>(&o)) {
        auto* l = links_named(a->ns, a->link);
        if (!l) return "No such device";
        if (!a->prefix.addr.is_v4() && l->mtu && *l->mtu < 1280) return "Invalid argument (IPv6 needs an MTU of 1280)";
    }
    if (auto link = link_under(o); (std::holds_alternative<Fdb>(o) || std::holds_alternative<Neigh>(o)) &&
                                   !links_named("", link.substr(1)))
        return "No such device";
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

std::string FakeKernel::default_sysctl(const std::string& key) const {
    for (const char* conf : {"net/ipv4/conf/", "net/ipv6/conf/"})
        if (key.starts_with(conf)) {
            auto dev = key.substr(std::string_view(conf).size());
            dev = dev.substr(0, dev.find('/'));
            if (dev == "all" || dev == "default") return "0";
            for (auto& [k, o] : state.objects)
                if (auto* l = std::get_if<Link>(&o); l && l->ns.empty() && l->name == dev) return "0";
            return "";  // no such file while the device is not there
        }
    return "0";
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
            // A sysctl is always there to write, held or not (see observe);
            // set back to the kernel's default, it is held no more.
            if (auto* s = std::get_if<Sysctl>(&*c.after)) {
                if (s->value == default_sysctl(s->key)) state.objects.erase(key_of(*c.after));
                else state.add(*c.after);
                break;
            }
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

std::vector<VxlanInUse> FakeKernel::vxlans() {
    auto out = host_vxlans;
    for (auto& [k, o] : state.objects)
        if (auto* l = std::get_if<Link>(&o); l && l->ns.empty() && l->vxlan)
            out.push_back({l->name, l->owner, l->vxlan->vni, l->vxlan->dstport,
                           uint8_t(l->vxlan->local ? l->vxlan->local->family : 4), l->mtu.value_or(1500)});
    return out;
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

std::unique_ptr<Kernel> paper_host() { return std::make_unique<FakeKernel>(); }

}  // namespace topo
