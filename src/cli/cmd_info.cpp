// validate, graph, show and ls: commands that read and change nothing.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cctype>
#include <filesystem>
#include <optional>

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "cli/output.hpp"
#include "cli/commands_impl.hpp"
#include "manifest/manifest.hpp"
#include "model/naming.hpp"
#include "reconcile/desired.hpp"
#include "reconcile/graph.hpp"
#include "reconcile/ipam.hpp"
#include "reconcile/names.hpp"
#include "state/serialize.hpp"

namespace topo::cli {

int cmd_validate(const Options& o) {
    auto files = manifest_files(o);
    auto p = manifest::load(files, load_options(o));
    print_warnings(p);
    size_t sandboxes = 0;
    for (auto& [_, s] : p.services) sandboxes += s.has_sandbox();
    fmt::print("{}: valid: project {}, {} network(s), {} service(s), {} sandbox(es)\n",
               files.back(), p.name, p.networks.size(), p.services.size(), sandboxes);
    for (auto& [_, n] : p.networks)
        if (n.driver == Driver::Macvlan)
            fmt::print("note: networks.{}: the host itself cannot reach macvlan sandboxes through "
                       "{} (a kernel property of macvlan)\n", n.name, n.parent);
    return 0;
}

int cmd_graph(const Options& o) {
    Options every = o;
    every.every_host = true;
    auto s = Session::open(every, true);
    // The addresses apply gives: the record's, and for the rest what IPAM
    // picks on this host now. Nothing is locked, read from a sandbox or written.
    IpamInput in;
    in.project = &*s.project;
    if (auto r = s.record()) in.previous = r->addressing;
    in.host_routes = s.kernel->host_routes();
    auto [subnets, ports] = s.others();
    in.other_subnets = std::move(subnets);
    in.used_ports = std::move(ports);
    auto ipam = allocate(in);
    if (!ipam.errors.empty()) {
        std::string msg = "the manifest's addresses cannot be given out:";
        for (auto& e : ipam.errors) msg += fmt::format("\n  {}: {}", e.path, e.message);
        throw UserError(msg);
    }
    fmt::print("{}", graph(*s.project, ipam.addressing, o.graph_format == "mermaid" ? GraphFormat::Mermaid : GraphFormat::Dot));
    return 0;
}

namespace {

// A value as `docker compose config` prints it: the keys Compose types as
// booleans and numbers typed (from the text topo reads them from, so
// "${N}" that became "3" is 3); every other scalar text.
nlohmann::json scalar_json(const std::string& key, const std::string& text) {
    // (`restart` is not among the booleans: a service's `restart: "no"` is a policy.)
    static const std::set<std::string> booleans = {
        "internal", "enable_ipv6", "enable_ipv4", "external", "attachable", "x-topo-take-over", "read_only", "tty",
        "stdin_open", "privileged", "init", "oom_kill_disable", "required", "disable"};
    static const std::set<std::string> numbers = {
        "priority", "gw_priority", "target", "scale", "replicas", "retries", "soft", "hard", "pids_limit",
        "oom_score_adj", "mem_swappiness", "cpu_shares", "cpu_count", "cpu_percent", "cpu_period", "cpu_quota",
        "cpu_rt_period", "cpu_rt_runtime", "cpus"};
    if (booleans.count(key)) {
        if (text == "true" || text == "True" || text == "yes") return true;
        if (text == "false" || text == "False" || text == "no") return false;
    }
    if (numbers.count(key) && !text.empty()) {
        long v = 0;
        auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec == std::errc() && end == text.data() + text.size()) return v;
        double d = 0;  // cpus: 0.5
        auto [dend, dec] = std::from_chars(text.data(), text.data() + text.size(), d);
        if (dec == std::errc() && dend == text.data() + text.size()) return d;
    }
    return text;
}

// Maps whose keys are the user's (an environment variable called `tty`, a
// label called `retries`, an extension): their values stay text, at any depth.
bool free_form(const std::string& key) {
    static const std::set<std::string> keys = {"environment", "labels", "annotations", "args", "sysctls",
                                               "extra_hosts", "driver_opts", "options"};
    return keys.count(key) || key.starts_with("x-");
}

// What a value under key `k` is typed by, below `parent`'s: nothing (text)
// inside a free-form map.
std::optional<std::string> typing_key(const std::optional<std::string>& parent, const std::string& k) {
    if (!parent || free_form(k)) return std::nullopt;
    return k;
}

nlohmann::json tree_json(const yaml::Node& n, const std::optional<std::string>& key = "") {
    if (n.IsMap()) {
        auto j = nlohmann::json::object();
        for (auto& [k, v] : n) j[k.Scalar()] = tree_json(v, typing_key(key, k.Scalar()));
        return j;
    }
    if (n.IsSequence()) {
        auto j = nlohmann::json::array();
        for (auto& item : n.items()) j.push_back(tree_json(item, key));
        return j;
    }
    if (n.IsScalar()) return key ? scalar_json(*key, n.Scalar()) : nlohmann::json(n.Scalar());
    return nullptr;
}

// YAML that reads back as the tree: keys plain where they can be, every
// scalar value double-quoted (so "8080:80" or "yes" stay text) but those
// scalar_json types.
void tree_yaml(const yaml::Node& n, int indent, std::string& out, const std::optional<std::string>& key = "") {
    auto key_text = [](const std::string& k) {
        bool plain = !k.empty() && std::all_of(k.begin(), k.end(), [](unsigned char c) {
            return std::isalnum(c) || c == '_' || c == '-' || c == '.';
        });
        return plain ? k : nlohmann::json(k).dump();
    };
    auto inline_value = [](const yaml::Node& v, const std::optional<std::string>& typed_by) -> std::optional<std::string> {
        if (v.IsScalar()) return (typed_by ? scalar_json(*typed_by, v.Scalar()) : nlohmann::json(v.Scalar())).dump();
        if (v.IsMap() && v.size() == 0) return "{}";
        if (v.IsSequence() && v.size() == 0) return "[]";
        if (!v.IsMap() && !v.IsSequence()) return "null";
        return std::nullopt;
    };
    std::string pad(size_t(indent), ' ');
    if (n.IsMap()) {
        for (auto& [k, v] : n) {
            auto typed_by = typing_key(key, k.Scalar());
            if (auto text = inline_value(v, typed_by)) {
                out += fmt::format("{}{}: {}\n", pad, key_text(k.Scalar()), *text);
            } else {
                out += fmt::format("{}{}:\n", pad, key_text(k.Scalar()));
                tree_yaml(v, indent + 2, out, typed_by);
            }
        }
    } else if (n.IsSequence()) {
        for (auto& item : n.items()) {
            if (auto text = inline_value(item, key)) {
                out += fmt::format("{}- {}\n", pad, *text);
                continue;
            }
            std::string inner;
            tree_yaml(item, indent + 2, inner, key);
            out += pad + "- " + inner.substr(size_t(indent) + 2);
        }
    }
}

}  // namespace

int cmd_config(const Options& o) {
    auto root = manifest::resolve(manifest_files(o), load_options(o));
    // The names as `docker compose config --services` prints them (shell
    // completion reads them): those the active profiles leave, unvalidated.
    if (o.list_services) {
        for (auto& [name, _] : root["services"]) fmt::print("{}\n", name.Scalar());
        return 0;
    }
    if (o.format == Format::Json) return fmt::print("{}\n", tree_json(root).dump(2)), 0;
    std::string out;
    tree_yaml(root, 0, out);
    fmt::print("{}", out);
    return 0;
}

namespace {

// An overlay's part on this host, from its bridge's VXLAN port: the tunnel,
// and the sandboxes of other hosts it knows of (their MACs' forwarding
// entries, with the addresses of their neighbour entries), by host.
nlohmann::json overlay_view(const HostState& live, const Link& vx, const Project* p) {
    nlohmann::json peers = nlohmann::json::array();
    auto host_name = [&](const IpAddr& a) -> std::string {
        if (p)
            for (auto& [name, h] : p->hosts)
                if (h.address == a) return name;
        return a.str();
    };
    for (auto& [k, o] : live.objects) {
        auto* f = std::get_if<Fdb>(&o);
        if (!f || f->dev != vx.name || !f->dst || f->mac == Mac{}) continue;
        std::vector<std::string> addresses;
        for (auto& [k2, o2] : live.objects)
            if (auto* n = std::get_if<Neigh>(&o2); n && n->dev == vx.name && n->mac == f->mac)
                addresses.push_back(n->ip.str());
        peers.push_back({{"mac", f->mac.str()}, {"addresses", addresses}, {"host", host_name(*f->dst)},
                         {"tunnel", f->dst->str()}});
    }
    nlohmann::json out{{"vxlan", vx.name}, {"peers", peers}};
    if (vx.vxlan) {
        out["vni"] = vx.vxlan->vni;
        out["dstport"] = vx.vxlan->dstport;
        if (vx.vxlan->local) out["local"] = vx.vxlan->local->str();
    }
    return out;
}

// The live state of one project, grouped for people: networks (bridges) and sandboxes.
nlohmann::json live_view(Session& s) {
    auto live = s.read_live();
    nlohmann::json nets = nlohmann::json::array(), boxes = nlohmann::json::object();
    std::map<std::string, std::vector<std::string>> addrs;  // "ns:link" → prefixes
    for (auto& [k, o] : live.objects)
        if (auto* a = std::get_if<Address>(&o)) addrs[a->ns + ":" + a->link].push_back(a->prefix.str());
    for (auto& [k, o] : live.objects) {
        if (auto* n = std::get_if<Netns>(&o); n && !n->owner.empty())  // not a user's of the same name
            boxes[n->name]["endpoints"] = nlohmann::json::array();
    }
    for (auto& [k, o] : live.objects) {
        if (auto* l = std::get_if<Link>(&o)) {
            if (l->kind == LinkKind::Bridge && l->ns.empty()) {
                auto m = naming::Marker::parse(l->owner);
                nlohmann::json net{{"bridge", l->name},
                                   {"network", m ? m->network : ""},
                                   {"owner", l->owner},
                                   {"addresses", addrs[":" + l->name]}};
                for (auto& [k2, o2] : live.objects)
                    if (auto* vx = std::get_if<Link>(&o2); vx && vx->kind == LinkKind::Vxlan && vx->master == l->name)
                        net["overlay"] = overlay_view(live, *vx, s.project ? &*s.project : nullptr);
                nets.push_back(std::move(net));
            } else if (l->peer) {
                const Veth& p = *l->peer;
                boxes[p.ns]["endpoints"].push_back(
                    {{"interface", p.name}, {"kind", "veth"}, {"host_end", l->name},
                     {"bridge", l->master}, {"mac", p.mac ? p.mac->str() : ""},
                     {"addresses", addrs[p.ns + ":" + p.name]}});
            } else if (l->kind == LinkKind::Macvlan) {
                boxes[l->ns]["endpoints"].push_back(
                    {{"interface", l->name}, {"kind", "macvlan"}, {"parent", l->macvlan ? l->macvlan->parent : ""},
                     {"addresses", addrs[l->ns + ":" + l->name]}});
            }
        } else if (auto* f = std::get_if<File>(&o); f && f->path.ends_with("/hosts")) {
            // The names the sandbox resolves, per network, as its hosts file
            // says (or the network's file it links to).
            auto dir = std::filesystem::path(f->path).parent_path();
            auto ns = dir.filename().string();
            if (ns == naming::shared_files_dir(s.project_name)) continue;  // a network named "hosts"
            const File* text = f;
            if (!f->link.empty())
                text = live.find_as<File>(Kind::File, (dir / f->link).lexically_normal().string());
            if (!text) continue;
            for (auto& e : parse_hosts(text->content.str()))
                boxes[ns]["names"][e.section].push_back(fmt::format("{} → {}", e.names, e.address));
        } else if (auto* r = std::get_if<Route>(&o)) {
            boxes[r->ns]["routes"].push_back(fmt::format("{} {}", r->dst.len ? r->dst.str() : "default", describe(o)));
        }
    }
    // The programs running in each sandbox (a namespace is a sandbox whether
    // or not anything runs in it; these are what `destroy` would cut off).
    std::vector<std::string> names;
    for (auto& [name, b] : boxes.items()) names.push_back(name);
    for (auto& [name, ps] : s.kernel->processes(names))
        for (auto& p : ps) boxes[name]["processes"].push_back({{"pid", p.pid}, {"command", p.command}});
    // The manifest's replicated services, by the replicas that are live
    // (however many the last apply's --scale made).
    nlohmann::json replicated = nlohmann::json::object();
    if (s.project)
        for (auto& [_, svc] : s.project->services) {
            if (!svc.replica_of || svc.replica_of->index != 1) continue;
            auto prefix = naming::netns(s.project_name, svc.replica_of->service) + "-";
            auto& list = replicated[svc.replica_of->service] = nlohmann::json::array();
            for (auto& name : names)
                if (name.starts_with(prefix) && name.size() > prefix.size() &&
                    std::all_of(name.begin() + long(prefix.size()), name.end(), [](unsigned char c) { return std::isdigit(c); }))
                    list.push_back(name);
        }
    return {{"project", s.project_name}, {"networks", nets}, {"replicated", replicated}, {"sandboxes", boxes}};
}

}  // namespace

int cmd_show(const Options& o) {
    auto s = Session::open(o, false);
    auto v = live_view(s);
    if (o.format == Format::Json) return fmt::print("{}\n", v.dump(2)), 0;
    fmt::print("Project {}\n", s.project_name);
    for (auto& n : v["networks"]) {
        fmt::print("  network {:<12} bridge {} {}\n", n["network"].get<std::string>(), n["bridge"].get<std::string>(),
                   fmt::join(n["addresses"].get<std::vector<std::string>>(), " "));
        if (!n.contains("overlay")) continue;
        auto& ov = n["overlay"];
        fmt::print("    overlay vxlan {} vni {} port {}{}\n", ov["vxlan"].get<std::string>(), ov.value("vni", 0u),
                   ov.value("dstport", 0u), ov.contains("local") ? " local " + ov["local"].get<std::string>() : "");
        for (auto& peer : ov["peers"])
            fmt::print("    remote {} {} on {} ({})\n", fmt::join(peer["addresses"].get<std::vector<std::string>>(), " "),
                       peer["mac"].get<std::string>(), peer["host"].get<std::string>(), peer["tunnel"].get<std::string>());
    }
    for (auto& [service, replicas] : v["replicated"].items())
        fmt::print("  service {} ({} replicas): {}\n", service, replicas.size(),
                   fmt::join(replicas.get<std::vector<std::string>>(), " "));
    for (auto& [name, b] : v["sandboxes"].items()) {
        fmt::print("  sandbox {}\n", name);
        for (auto& e : b["endpoints"])
            fmt::print("    {:<6} {} {}\n", e["interface"].get<std::string>(), e["kind"].get<std::string>(),
                       fmt::join(e["addresses"].get<std::vector<std::string>>(), " "));
        if (b.contains("routes"))
            for (auto& r : b["routes"]) fmt::print("    route {}\n", r.get<std::string>());
        if (b.contains("names"))
            for (auto& [net, names] : b["names"].items())
                fmt::print("    names on {}: {}\n", net, fmt::join(names.get<std::vector<std::string>>(), ", "));
        if (b.contains("processes"))
            for (auto& p : b["processes"])
                fmt::print("    process {} {}\n", p["pid"].get<int>(), p["command"].get<std::string>());
    }
    return 0;
}

int cmd_ls(const Options& o) {
    StateDir state(o.state_dir);
    auto kernel_ptr = machine().kernel();
    auto& kernel = *kernel_ptr;
    std::set<std::string> names;
    for (auto& p : state.projects()) names.insert(p);
    for (auto& p : kernel.projects()) names.insert(p);
    nlohmann::json out = nlohmann::json::array();
    for (auto& name : names) {
        ReadScope scope;
        scope.project = name;
        auto live = kernel.read(scope);
        // Remote: the sandboxes of other hosts on this host's overlays.
        int nets = 0, boxes = 0, overlays = 0, remote = 0;
        for (auto& [k, ob] : live.objects) {
            nets += k.kind == Kind::Bridge;
            overlays += k.kind == Kind::Vxlan;
            boxes += k.kind == Kind::Netns && !std::get<Netns>(ob).owner.empty();
            if (auto* f = std::get_if<Fdb>(&ob)) remote += f->dst && f->mac != Mac{};
        }
        bool recorded = state.load(name).has_value();
        out.push_back({{"project", name}, {"networks", nets}, {"overlays", overlays}, {"sandboxes", boxes},
                       {"remote_sandboxes", remote}, {"recorded", recorded}});
    }
    if (o.format == Format::Json) return fmt::print("{}\n", out.dump(2)), 0;
    fmt::print("{:<24} {:>8} {:>9} {:>6}  {}\n", "PROJECT", "NETWORKS", "SANDBOXES", "REMOTE", "STATE");
    for (auto& p : out)
        fmt::print("{:<24} {:>8} {:>9} {:>6}  {}\n", p["project"].get<std::string>(), p["networks"].get<int>(),
                   p["sandboxes"].get<int>(), p["remote_sandboxes"].get<int>(),
                   p["recorded"].get<bool>() ? "recorded" : "no record (collect with destroy --collect)");
    return 0;
}

}  // namespace topo::cli
