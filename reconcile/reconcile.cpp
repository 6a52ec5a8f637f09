// compute() and verify() (reconcile/reconcile.hpp): the steps from a manifest
// to a plan, and the read-back. The checks against the host's facts are
// reconcile/host_checks.cpp's.
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
#include "reconcile/host_checks.hpp"
#include "reconcile/plan.hpp"
#include "reconcile/recover.hpp"

namespace topo {

namespace {

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

}  // namespace

namespace {

// Step 1, desire: the allocations (the record's, or without one what the
// kernel holds, so nothing that runs is renumbered), then what the kernel
// should hold for this project on this host. For a destroy (no project),
// nothing. False when the plan cannot be made. Where there is no record,
// the host is read whole first; `seen`, when given, keeps what was observed,
// for the caller to judge again instead of reading the host a second time.
// With `since` (compute_since), the desired state is worked out from the
// converged one where it can be, and `moved` is what changed since it.
struct Incremental {
    HostState& converged;
    const Since& since;
    std::optional<std::vector<Change>> moved;
};

bool desire(Kernel& kernel, const PlanInput& in, const std::set<std::string>& only, Computed& c,
            std::optional<Observation>* seen = nullptr, Incremental* since = nullptr) {
    // A watch: the services its manifest's change touched, and where its
    // record is what it kept, IPAM for those alone (allocate_since).
    const Since* last = since && since->since.touched && since->since.project && since->since.addressing &&
                                since->since.context && in.project
                            ? &since->since
                            : nullptr;
    std::optional<IpamSince> is;
    // The record, when it was not loaded: what the watch kept (until
    // allocate_since takes it).
    const Addressing* kept = in.previous_kept && since ? since->since.addressing : nullptr;
    if (!in.project) {
        c.desired.scope.project = in.project_name;
    } else {
        for (auto& name : only)
            if (!in.project->services.count(name))
                c.errors.push_back(fmt::format("services.{}: no such service in the manifest; name one of its "
                                               "services, or none to apply all of it",
                                               name));
        if (!c.errors.empty()) return false;
        std::set<std::string> changed;
        if (last) changed = with_replicas(*last->project, *in.project, *last->touched);
        if (last && in.previous_kept) {
            IpamInput ii{in.project, {}, kernel.host_routes(), in.other_subnets, in.other_ports, only, {}};
            ii.previous.networks = last->addressing->networks;
            is = (trace::Span("ipam since"), allocate_since(ii, *last->addressing, changed, *last->project));
        }
        if (is) {
            c.addressing = std::move(is->result.addressing);
        } else {
            Addressing previous = kept ? *kept : in.previous;
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
            if (last) readdressed(*last->addressing, c.addressing, changed);
        }
        trace::Span t("desired state");
        c.context = {in.host, in.host_resolv_conf, in.files_root, only, overlay_mtus(kernel, *in.project, in.host)};
        // The record names the host too: kept only while that is the same.
        c.record_kept = is && is->same && last->context->host == c.context.host;
        std::optional<DesiredSince> ds;
        if (last) {
            auto start = std::chrono::steady_clock::now();
            ds = desired_since(since->converged, *last->project, is ? is->before : *last->addressing, *last->context,
                               *in.project, c.addressing, c.context, changed);
            if (ds) trace::report("desired since", start);
        }
        if (ds) {
            c.desired = std::move(ds->desired);
            since->moved = std::move(ds->moved);
        } else {
            c.desired = desired_state(*in.project, c.addressing, c.context);
        }
        c.errors = c.desired.errors;
        if (ds) {
            // The sandboxes it may read: those it holds, and those the change
            // touched (a namespace by such a name that is not topo's is a conflict).
            auto& objects = c.desired.state.objects;
            for (auto it = objects.begin(); it != objects.end() && it->first.kind == Kind::Netns; ++it)
                c.desired.scope.sandboxes.push_back(it->first.id);
            for (auto& name : changed) c.desired.scope.sandboxes.push_back(naming::netns(in.project->name, name));
            return true;
        }
    }
    // The sandboxes the project has or had: a namespace by one of these names
    // that is not topo's is a conflict, and a half-made one is claimed.
    // (The record, when not loaded, is what the watch kept: of it, with
    // allocate_since, the touched services' part is left apart.)
    const auto& project = c.desired.scope.project;
    auto& sandboxes = c.desired.scope.sandboxes;
    const auto& had = !kept ? in.previous : is ? is->before : *kept;
    for (auto& [key, _] : had.endpoints)
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
    refuse_taken_vnis(kernel, d.changes, c.errors);
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

Computed compute_since(Kernel& kernel, const PlanInput& in, HostState& converged, const Focus& drifted,
                       const Since& since) {
    Computed c;
    Incremental inc{converged, since, std::nullopt};
    if (!desire(kernel, in, {}, c, nullptr, &inc)) return c;
    // What the manifest changed since the last converged run, and what drifted.
    auto moved = inc.moved ? std::move(*inc.moved)
                           : (trace::Span("diff with converged"), diff(c.desired.state, converged).changes);
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
