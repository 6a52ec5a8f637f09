// `topo probe`'s promises and verdict (reconcile/probe.hpp).
#include "reconcile/probe.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "model/naming.hpp"
#include "reconcile/names.hpp"

namespace topo {

namespace {

struct Planner {
    const Project& p;
    const Addressing& a;
    const std::string& host;
    const std::set<std::string>& only;
    ProbePlan out;
    std::set<std::pair<std::string, uint16_t>> listening;

    std::string ns(const Service& s) const { return naming::netns(p.name, s.name); }
    bool wanted(const Service& x) const {
        return only.empty() || only.count(x.name) || (x.replica_of && only.count(x.replica_of->service));
    }
    void listen(const std::string& netns, uint16_t port) {
        if (listening.insert({netns, port}).second) out.run.listeners.push_back({netns, port});
    }
    void add(Probe pr, Expectation e) {
        out.run.probes.push_back(std::move(pr));
        out.expect.push_back(std::move(e));
    }

    std::vector<const Service*> sandboxes() const {
        std::vector<const Service*> xs;
        for (auto& [_, s] : p.services)
            if (s.mode == NetworkMode::Sandbox && !s.endpoints.empty() && runs_here(p, s, host)) xs.push_back(&s);
        return xs;
    }

    // Which peers each sandbox tries on a network of `members`: all
    // (`every`), or those `per` strides after it around the ring.
    static std::vector<size_t> strides(size_t members, bool every, size_t per) {
        std::vector<size_t> out;
        if (members < 2) return out;
        if (every) {
            for (size_t s = 1; s < members; ++s) out.push_back(s);
            return out;
        }
        for (size_t k = 1; out.size() < per && k < members; ++k) {
            size_t s = k == 1 ? 1 : members / k;
            if (s > 0 && std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
        }
        return out;
    }

    // Pairs: y's address on each of its networks, from x — every ordered
    // pair, or a sample of them past the budget.
    void pairs() {
        auto xs = sandboxes();
        std::map<std::string, std::vector<const Service*>> members;  // network → its sandboxes here
        for (auto* x : xs)
            for (auto& e : x->endpoints) members[e.network].push_back(x);
        // Every pair where all of them fit the budget; else as many strides on
        // each network as fit (at least one).
        size_t all = 0, memberships = 0;
        for (auto& [_, on] : members) all += on.size() * (on.size() - 1), memberships += on.size();
        bool every = all <= pair_budget;
        size_t per = std::max<size_t>(1, memberships ? pair_budget / memberships : 1);
        std::set<std::pair<const Service*, const Service*>> tried;  // (x, y) on y's network
        for (auto& [network, on] : members)
            for (auto s : strides(on.size(), every, per))
                for (size_t i = 0; i < on.size(); ++i) tried.insert({on[i], on[(i + s) % on.size()]});
        // Across networks: from each sandbox to a few of each network it is not on.
        std::set<std::pair<const Service*, const Service*>> across;
        for (size_t i = 0; i < xs.size(); ++i)
            for (auto& [network, on] : members) {
                auto* x = xs[i];
                if (std::any_of(x->endpoints.begin(), x->endpoints.end(), [&](auto& e) { return e.network == network; })) continue;
                size_t take = on.size() * xs.size() <= pair_budget ? on.size() : std::min<size_t>(on.size(), 2);
                for (size_t k = 0; k < take; ++k) across.insert({x, on[(i + k * std::max<size_t>(1, on.size() / take)) % on.size()]});
            }
        for (auto* y : xs)
            for (auto& ey : y->endpoints) {
                const Network& n = p.networks.at(ey.network);
                auto* ea = a.endpoint(y->name, ey.network);
                if (!ea) continue;
                for (auto* x : xs) {
                    if (x == y || !(wanted(*x) || wanted(*y))) continue;
                    if (!tried.count({x, y}) && !across.count({x, y})) continue;
                    bool shared = std::any_of(x->endpoints.begin(), x->endpoints.end(),
                                              [&](const Endpoint& e) { return e.network == ey.network; });
                    // A LAN's or a user's bridge: what routes to it is not topo's to promise.
                    if (!shared && (n.driver == Driver::Macvlan || n.external)) continue;
                    Expectation e;
                    e.reach = shared && n.enable_icc;
                    e.table = shared ? "network " + n.name : "isolation";
                    e.from = x->name, e.to = y->name;
                    e.path = {ns(*x), ns(*y), "nft", "sysctl", bridge_name(p, n)};
                    for (auto& ex : x->endpoints) e.path.insert(bridge_name(p, p.networks.at(ex.network)));
                    for (auto& ip : {ea->v4, ea->v6}) {
                        if (!ip) continue;
                        listen(ns(*y), probe_port);
                        e.what = fmt::format("tcp {}", ip->is_v4() ? fmt::format("{}:{}", ip->str(), probe_port)
                                                                  : fmt::format("[{}]:{}", ip->str(), probe_port));
                        add({Probe::Kind::Tcp, ns(*x), *ip, probe_port}, e);
                        e.what = "ping " + ip->str();
                        add({Probe::Kind::Ping, ns(*x), *ip, 0}, e);
                    }
                }
            }
    }

    // The way out of the project's networks: a sandbox on a network that is
    // not internal reaches the host's own address outside them (the first
    // hop of its egress: default route, gateway, forwarding, topo's
    // filter); one only on internal networks does not. Masquerade itself
    // shows only on packets that leave the host, and probe sends none
    // there; a missing masquerade rule is drift the plan names.
    void egress(const std::vector<IpAddr>& host_addresses, const BaseChain* input_filter) {
        auto out_of = std::find_if(host_addresses.begin(), host_addresses.end(), [](auto& h) { return h.is_v4(); });
        if (out_of == host_addresses.end()) return;
        if (input_filter)
            out.notes.push_back(fmt::format("egress not probed at the host's address: table {} {}, chain {} at the input hook "
                                            "decides what reaches the host ({} rule{}, policy {}), not the network",
                                            input_filter->family, input_filter->table, input_filter->chain, input_filter->rules,
                                            input_filter->rules == 1 ? "" : "s", input_filter->policy));
        for (auto* x : sandboxes()) {
            if (!wanted(*x)) continue;
            // Only where every network is topo's bridge or overlay: the way
            // from a macvlan or a user's bridge is the LAN's, not topo's.
            bool topos = std::all_of(x->endpoints.begin(), x->endpoints.end(), [&](auto& e) {
                auto& n = p.networks.at(e.network);
                return n.driver != Driver::Macvlan && !n.external;
            });
            bool leaves = topos && std::any_of(x->endpoints.begin(), x->endpoints.end(), [&](auto& e) {
                auto* ea = a.endpoint(x->name, e.network);
                return !p.networks.at(e.network).internal && ea && ea->v4;
            });
            bool internal_only = std::all_of(x->endpoints.begin(), x->endpoints.end(),
                                             [&](auto& e) { return p.networks.at(e.network).internal; });
            if (!leaves && !internal_only) continue;  // (IPv6 alone: no IPv4 way out to try)
            if (leaves && input_filter) continue;
            Expectation e{leaves, "egress", x->name, "host",
                          fmt::format("tcp {}:{} ({})", out_of->str(), probe_port,
                                      leaves ? "the host outside the project's networks" : "out of the host's internal networks"),
                          {ns(*x), "nft", "sysctl"}};
            for (auto& ex : x->endpoints) e.path.insert(bridge_name(p, p.networks.at(ex.network)));
            listen("", probe_port);
            add({Probe::Kind::Tcp, ns(*x), *out_of, probe_port}, e);
        }
    }

    // Every published TCP port, at each host address, from the host; and
    // through the host's address from a sandbox of the network (hairpin).
    void ports(const std::vector<IpAddr>& host_addresses) {
        auto xs = sandboxes();
        for (auto& [_, s] : p.services) {
            if (s.ports.empty() || !runs_here(p, s, host)) continue;
            auto* target = port_target(p, s);
            if (!target) continue;
            std::vector<const Service*> behind;
            for (auto* x : xs)
                if (x == &s || (s.replica_of && x->replica_of && x->replica_of->service == s.replica_of->service))
                    behind.push_back(x);
            if (behind.empty() || std::none_of(behind.begin(), behind.end(), [&](auto* b) { return wanted(*b); })) continue;
            const Network& n = p.networks.at(target->network);
            auto* ea = a.endpoint(s.name, target->network);
            if (!ea) continue;
            auto name = s.replica_of ? s.replica_of->service : s.name;
            std::set<std::string> path{"nft", "sysctl", bridge_name(p, n)};
            for (auto* b : behind) path.insert(ns(*b));
            // A sandbox that reaches the host's address from the network (one behind the port will do).
            const Service* hairpin = behind.front();
            for (auto* x : xs)
                if (std::find(behind.begin(), behind.end(), x) == behind.end() &&
                    std::any_of(x->endpoints.begin(), x->endpoints.end(), [&](auto& e) { return e.network == n.name; }))
                    hairpin = x;
            for (auto& port : s.ports) {
                if (port.protocol != Protocol::Tcp) continue;  // (UDP cannot be told from silence)
                uint16_t pub = port.published ? port.published->first : 0;
                if (!port.published)
                    if (auto it = a.ephemeral_ports.find(ephemeral_port_key(s.name, port)); it != a.ephemeral_ports.end())
                        pub = it->second;
                if (!pub) continue;
                for (auto* b : behind) listen(ns(*b), port.target.first);
                auto bound = port.host_ip ? port.host_ip : n.host_binding_ipv4;
                bool any = !bound || bound->is_unspecified();
                auto at = host_addresses;
                at.push_back(*IpAddr::parse("127.0.0.1"));
                std::optional<IpAddr> first;
                for (auto& h : at) {
                    if ((h.is_v4() && !ea->v4) || (h.is_v6() && !ea->v6)) continue;  // not published in that family
                    if (bound && bound->family != h.family) continue;  // (0.0.0.0 is IPv4 alone, :: IPv6)
                    Expectation e{any || h == *bound, "ports", "host", name,
                                  fmt::format("{}/tcp at {}", pub, h.is_v4() ? h.str() : "[" + h.str() + "]"), path};
                    add({Probe::Kind::Tcp, "", h, pub}, e);
                    if (e.reach && !h.is_loopback() && !first) first = h;
                }
                if (first) {
                    // Through the host and back into the network: what enable_icc: false drops.
                    Expectation e{n.enable_icc, "ports", hairpin->name, name,
                                  fmt::format("{}/tcp at {} (hairpin)", pub, first->is_v4() ? first->str() : "[" + first->str() + "]"),
                                  path};
                    e.path.insert(ns(*hairpin));
                    add({Probe::Kind::Tcp, ns(*hairpin), *first, pub}, e);
                }
            }
        }
    }
};

// The names a change touches: namespaces, links, "nft", "sysctl".
std::set<std::string> touched(const Change& c) {
    std::set<std::string> out;
    std::visit(
        [&](const auto& o) {
            using T = std::decay_t<decltype(o)>;
            if constexpr (std::is_same_v<T, Link>) out.insert({o.name, o.ns, o.master, o.peer ? o.peer->ns : ""});
            else if constexpr (std::is_same_v<T, Address>) out.insert({o.ns, o.link});
            else if constexpr (std::is_same_v<T, Route>) out.insert({o.ns, o.dev});
            else if constexpr (std::is_same_v<T, Netns>) out.insert(o.name);
            else if constexpr (std::is_same_v<T, NftTable>) out.insert("nft");
            else if constexpr (std::is_same_v<T, Sysctl>) out.insert("sysctl");
        },
        c.object());
    out.erase("");
    return out;
}

std::string change_line(const Change& c) {
    const char* sym = c.action == Action::Create ? "+" : c.action == Action::Update ? "~" : c.action == Action::Delete ? "-" : "±";
    auto d = describe(c.object());
    std::string line = fmt::format("{} {} {}{}", sym, to_string(c.kind()), c.id(), d.empty() ? "" : " " + d);
    if (!c.fields.empty()) line += fmt::format(" ({})", fmt::join(c.fields, "; "));
    return line.size() > 300 ? line.substr(0, 300) + "…" : line;
}

// A hosts file's text in a state, following a link to the shared file.
std::optional<std::string> hosts_text(const HostState& s, const std::string& path) {
    auto* f = s.find_as<File>(Kind::File, path);
    if (f && !f->link.empty())
        f = s.find_as<File>(Kind::File, (std::filesystem::path(path).parent_path() / f->link).lexically_normal().string());
    if (!f) return std::nullopt;
    return f->content.str();
}

std::set<std::string> entries(const std::string& text) {
    std::set<std::string> out;
    for (auto& e : parse_hosts(text)) out.insert(fmt::format("{} → {} (on {})", e.names, e.address, e.section));
    return out;
}

}  // namespace

ProbePlan probe_plan(const Project& p, const Addressing& a, const std::string& host,
                     const std::vector<IpAddr>& host_addresses, const std::set<std::string>& only,
                     std::chrono::milliseconds timeout, const std::vector<BaseChain>& chains,
                     const std::string& own_table) {
    Planner pl{p, a, host, only, {}, {}};
    pl.out.run.timeout = timeout;
    pl.pairs();
    const BaseChain* input_filter = nullptr;
    for (auto& b : chains)
        if (b.table != own_table && b.hook == "input" && (b.rules > 0 || b.policy == "drop")) input_filter = &b;
    pl.egress(host_addresses, input_filter);
    pl.ports(host_addresses);
    return std::move(pl.out);
}

ProbeReport judge_probes(const ProbePlan& plan, const std::vector<ProbeOutcome>& got, const Computed& c,
                         const std::vector<BaseChain>& chains, const std::string& own_table) {
    ProbeReport r;
    std::vector<std::pair<std::set<std::string>, std::string>> drift;
    for (auto& ch : c.plan.changes) drift.emplace_back(touched(ch), change_line(ch));
    std::vector<std::string> others;  // other tables' base chains where topo's are
    for (auto& b : chains)
        if (b.table != own_table &&
            (b.hook == "forward" || b.hook == "prerouting" || b.hook == "postrouting" || b.hook == "output" || b.hook == "input") &&
            (b.rules > 0 || b.policy == "drop"))
            others.push_back(fmt::format("table {} {}, chain {} ({} hook, priority {}, {} rule{}, policy {}) also sees these packets",
                                         b.family, b.table, b.chain, b.hook, b.priority, b.rules, b.rules == 1 ? "" : "s", b.policy));
    for (size_t i = 0; i < plan.expect.size() && i < got.size(); ++i) {
        auto& e = plan.expect[i];
        Finding f{&e, got[i], got[i].reached == e.reach, "", {}};
        if (!f.ok) {
            for (auto& [names, line] : drift)
                if (std::any_of(names.begin(), names.end(), [&](auto& n) { return e.path.count(n); }) && f.causes.size() < 5)
                    f.causes.push_back("topo would change: " + line);
            if (e.reach && !got[i].reached) f.causes.insert(f.causes.end(), others.begin(), others.end());
            if (f.causes.empty())
                f.causes.push_back(e.reach ? "topo's objects on the path are as the manifest wants: look at what else is on it "
                                             "(a program in the sandbox, another firewall, routing), or at the host's "
                                             "neighbour table, one for all namespaces (net.ipv4.neigh.default.gc_thresh3; "
                                             "\"neighbour table overflow\" in dmesg)"
                                           : "topo's objects on the path are as the manifest wants, and the packet passed anyway: "
                                             "look for what forwards it besides (br_netfilter off with a user's rule, a route)");
            ++r.broken;
        }
        r.findings.push_back(std::move(f));
    }
    // Each sandbox's hosts file, as topo wrote it.
    for (auto& [key, o] : c.desired.state.objects) {
        auto* want = std::get_if<File>(&o);
        if (!want || !want->path.ends_with("/hosts")) continue;
        auto sandbox = std::filesystem::path(want->path).parent_path().filename().string();
        if (sandbox.starts_with(".")) continue;  // the shared files: judged through the sandboxes that link to them
        auto w = hosts_text(c.desired.state, want->path), h = hosts_text(c.live, want->path);
        if (w == h) continue;
        Finding f{nullptr, {}, false, sandbox, {}};
        if (!h) {
            f.causes.push_back(fmt::format("{} is missing", want->path));
        } else {
            auto we = entries(w.value_or("")), he = entries(*h);
            for (auto& x : we)
                if (!he.count(x) && f.causes.size() < 5) f.causes.push_back("missing: " + x);
            for (auto& x : he)
                if (!we.count(x) && f.causes.size() < 10) f.causes.push_back("not topo's: " + x);
            if (f.causes.empty()) f.causes.push_back(fmt::format("{} differs from what topo wrote (comments or order)", want->path));
        }
        ++r.broken;
        r.findings.push_back(std::move(f));
    }
    return r;
}

}  // namespace topo
