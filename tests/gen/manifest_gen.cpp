// Random manifests and day-2 edits (manifest_gen.hpp). Every edit is followed
// by normalize(), which restores the rules a valid manifest keeps (a static
// address needs a fixed subnet, subnets and host ports are unique, a port
// needs a network that leaves the host, service:X names a sandbox), so any
// sequence of edits stays valid.
#include "manifest_gen.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace topo::gen {

namespace {

constexpr int pool_size = 8;  // 10.77.0.0/24 … 10.77.7.0/24

int pick(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
bool chance(std::mt19937_64& rng, double p) { return std::bernoulli_distribution(p)(rng); }

template <class M>
const std::string& any_key(const M& m, std::mt19937_64& rng) {
    auto it = m.begin();
    std::advance(it, pick(rng, 0, int(m.size()) - 1));
    return it->first;
}

std::string fresh_name(const std::string& prefix, const std::set<std::string>& taken, std::mt19937_64& rng) {
    for (;;) {
        auto n = fmt::format("{}{}", prefix, pick(rng, 1, 99));
        if (!taken.count(n)) return n;
    }
}
template <class M>
std::set<std::string> keys(const M& m) {
    std::set<std::string> out;
    for (auto& [k, _] : m) out.insert(k);
    return out;
}

NetSpec random_net(std::mt19937_64& rng) {
    NetSpec n;
    n.subnet = chance(rng, 0.75) ? pick(rng, 0, pool_size - 1) : -1;
    n.range = chance(rng, 0.3);
    n.ipv6 = chance(rng, 0.25);
    n.internal = chance(rng, 0.2);
    n.icc = !chance(rng, 0.2);
    if (chance(rng, 0.25)) n.mtu = std::vector<int>{1000, 1280, 1400, 1450, 1500}[pick(rng, 0, 4)];
    return n;
}

Attach random_attach(const std::string& net, std::mt19937_64& rng) {
    Attach a;
    a.network = net;
    if (chance(rng, 0.4)) a.host = pick(rng, 130, 250);
    if (chance(rng, 0.3)) a.aliases.push_back(fmt::format("alias{}", pick(rng, 1, 9)));
    return a;
}

void random_endpoints(const Spec& s, SvcSpec& v, std::mt19937_64& rng) {
    v.nets.clear();
    for (auto& [name, _] : s.networks)
        if (chance(rng, 0.5)) v.nets.push_back(random_attach(name, rng));
    std::shuffle(v.nets.begin(), v.nets.end(), rng);
}

SvcSpec random_svc(const Spec& s, std::mt19937_64& rng) {
    SvcSpec v;
    if (chance(rng, 0.08)) v.mode = "none";
    else if (chance(rng, 0.08) && !s.services.empty()) v.mode = "service:" + any_key(s.services, rng);
    if (v.mode.empty()) {
        random_endpoints(s, v, rng);
        if (chance(rng, 0.3)) v.ports.push_back(pick(rng, 8000, 8019));
    }
    return v;
}

bool leaves_host(const Spec& s, const SvcSpec& v) {
    if (v.nets.empty()) return true;  // the implicit `default` network
    return std::any_of(v.nets.begin(), v.nets.end(), [&](const Attach& a) { return !s.networks.at(a.network).internal; });
}

// Restore the rules of a valid manifest after an edit.
void normalize(Spec& s) {
    std::set<int> subnets;
    for (auto& [_, n] : s.networks) {
        while (n.subnet >= 0 && subnets.count(n.subnet)) n.subnet = (n.subnet + 1) % pool_size;
        if (n.subnet >= 0) subnets.insert(n.subnet);
        if (n.subnet < 0) n.ipv6 = false;  // IPv6 only with a subnet of its own
        if (n.ipv6 && n.mtu && *n.mtu < 1280) n.mtu = 1280;  // IPv6's minimum
        if (n.subnet < 0 && subnets.size() >= size_t(pool_size)) n.subnet = -1;
    }
    std::set<int> ports;
    for (auto& [name, v] : s.services) {
        if (v.mode.starts_with("service:")) {
            auto target = s.services.find(v.mode.substr(8));
            if (target == s.services.end() || target->first == name || !target->second.mode.empty()) v.mode.clear();
        }
        if (!v.mode.empty()) {
            v.nets.clear(), v.ports.clear();
            continue;
        }
        std::erase_if(v.nets, [&](const Attach& a) { return !s.networks.count(a.network); });
        std::set<std::string> seen;
        std::erase_if(v.nets, [&](const Attach& a) { return !seen.insert(a.network).second; });
        for (auto& a : v.nets) {
            auto& n = s.networks.at(a.network);
            if (n.subnet < 0) a.host = 0;
        }
        if (!leaves_host(s, v)) v.ports.clear();
        std::erase_if(v.ports, [&](int p) { return !ports.insert(p).second; });
    }
    // Static addresses: unique on their network.
    std::map<std::string, std::set<int>> used;
    for (auto& [_, v] : s.services)
        for (auto& a : v.nets)
            if (a.host && !used[a.network].insert(a.host).second) a.host = 0;
}

// Give one entry a fresh name; returns the old name and the new.
template <class M>
std::pair<std::string, std::string> rename_one(M& m, const char* prefix, std::mt19937_64& rng) {
    std::string from = any_key(m, rng);
    auto to = fresh_name(prefix, keys(m), rng);
    m[to] = m.at(from);
    m.erase(from);
    return {from, to};
}

// Add an entry made by `make` (while there are fewer than `max`), or remove one (while more than one).
template <class M, class Make>
void add_or_remove(M& m, const char* prefix, const char* what, int max, Make&& make, std::mt19937_64& rng,
                   std::vector<std::string>& log) {
    if (int(m.size()) < max && chance(rng, 0.6)) {
        auto name = fresh_name(prefix, keys(m), rng);
        m[name] = make();
        log.push_back(fmt::format("add {} {}", what, name));
    } else if (m.size() > 1) {
        auto name = any_key(m, rng);
        m.erase(name);
        log.push_back(fmt::format("remove {} {}", what, name));
    }
}

}  // namespace

Spec random_spec(std::mt19937_64& rng, const Limits& lim) {
    Spec s;
    int nets = pick(rng, 1, lim.max_networks);
    for (int i = 0; i < nets; ++i) s.networks[fresh_name("n", keys(s.networks), rng)] = random_net(rng);
    int svcs = pick(rng, 1, lim.max_services);
    for (int i = 0; i < svcs; ++i) {
        auto name = fresh_name("s", keys(s.services), rng);
        s.services[name] = random_svc(s, rng);
    }
    normalize(s);
    return s;
}

Spec edit(const Spec& a, std::mt19937_64& rng, std::vector<std::string>& log, const Limits& lim) {
    Spec s = a;
    int edits = pick(rng, 1, 3);
    for (int e = 0; e < edits; ++e) {
        switch (pick(rng, 0, 10)) {
            case 0: {  // rename a network
                auto [from, to] = rename_one(s.networks, "n", rng);
                for (auto& [_, v] : s.services)
                    for (auto& at : v.nets)
                        if (at.network == from) at.network = to;
                log.push_back(fmt::format("rename network {} → {}", from, to));
                break;
            }
            case 1: {  // rename a service
                auto [from, to] = rename_one(s.services, "s", rng);
                for (auto& [_, v] : s.services)
                    if (v.mode == "service:" + from) v.mode = "service:" + to;
                log.push_back(fmt::format("rename service {} → {}", from, to));
                break;
            }
            case 2: {  // change a subnet (or let IPAM pick, or fix one)
                auto& name = any_key(s.networks, rng);
                auto& n = s.networks.at(name);
                n.subnet = chance(rng, 0.85) ? pick(rng, 0, pool_size - 1) : -1;
                log.push_back(fmt::format("subnet of {} → {}", name, n.subnet));
                break;
            }
            case 3: {  // a service joins or leaves a network
                auto& name = any_key(s.services, rng);
                auto& v = s.services.at(name);
                auto& net = any_key(s.networks, rng);
                auto it = std::find_if(v.nets.begin(), v.nets.end(), [&](auto& x) { return x.network == net; });
                if (it != v.nets.end()) v.nets.erase(it), log.push_back(fmt::format("{} leaves {}", name, net));
                else v.nets.push_back(random_attach(net, rng)), log.push_back(fmt::format("{} joins {}", name, net));
                break;
            }
            case 4:  // add a service, or remove one
                add_or_remove(s.services, "s", "service", lim.max_services, [&] { return random_svc(s, rng); }, rng, log);
                break;
            case 5:  // add a network, or remove one
                add_or_remove(s.networks, "n", "network", lim.max_networks, [&] { return random_net(rng); }, rng, log);
                break;
            case 6: {  // a static address comes, goes or moves
                auto& name = any_key(s.services, rng);
                auto& v = s.services.at(name);
                if (v.nets.empty()) break;
                auto& at = v.nets[size_t(pick(rng, 0, int(v.nets.size()) - 1))];
                at.host = chance(rng, 0.7) ? pick(rng, 130, 250) : 0;
                log.push_back(fmt::format("{} on {}: address .{}", name, at.network, at.host));
                break;
            }
            case 7: {  // aliases and ports
                auto& name = any_key(s.services, rng);
                auto& v = s.services.at(name);
                if (chance(rng, 0.5) && !v.nets.empty()) {
                    auto& at = v.nets[size_t(pick(rng, 0, int(v.nets.size()) - 1))];
                    at.aliases = chance(rng, 0.5) ? std::vector<std::string>{} : std::vector<std::string>{fmt::format("alias{}", pick(rng, 1, 9))};
                    log.push_back(fmt::format("{} on {}: aliases changed", name, at.network));
                } else {
                    v.ports = chance(rng, 0.5) ? std::vector<int>{} : std::vector<int>{pick(rng, 8000, 8019)};
                    log.push_back(fmt::format("{}: ports changed", name));
                }
                break;
            }
            case 8: {  // network flags: internal, icc, ipv6, range, mtu
                auto& name = any_key(s.networks, rng);
                auto& n = s.networks.at(name);
                switch (pick(rng, 0, 4)) {
                    case 0: n.internal = !n.internal; break;
                    case 1: n.icc = !n.icc; break;
                    case 2: n.ipv6 = !n.ipv6; break;
                    case 3: n.range = !n.range; break;
                    case 4: n.mtu = chance(rng, 0.3) ? std::nullopt : std::optional<int>(std::vector<int>{1000, 1280, 1400, 1450, 1500}[pick(rng, 0, 4)]); break;
                }
                log.push_back(fmt::format("flags of network {}", name));
                break;
            }
            case 9: {  // network_mode changes
                auto& name = any_key(s.services, rng);
                auto& v = s.services.at(name);
                v = random_svc(s, rng);
                log.push_back(fmt::format("{}: mode '{}'", name, v.mode));
                break;
            }
            default: {  // a manifest that has little to do with the last one
                s = random_spec(rng, lim);
                log.push_back("new manifest");
                break;
            }
        }
        normalize(s);
    }
    return s;
}

std::string to_yaml(const Spec& s) {
    std::string y = fmt::format("name: {}\nnetworks:\n", s.project);
    for (auto& [name, n] : s.networks) {
        y += fmt::format("  {}:\n", name);
        if (n.internal) y += "    internal: true\n";
        if (n.ipv6) y += "    enable_ipv6: true\n";
        if (!n.icc || n.mtu) {
            y += "    driver_opts:\n";
            if (!n.icc) y += "      com.docker.network.bridge.enable_icc: \"false\"\n";
            if (n.mtu) y += fmt::format("      com.docker.network.driver.mtu: \"{}\"\n", *n.mtu);
        }
        if (n.subnet >= 0) {
            y += fmt::format("    ipam:\n      config:\n        - subnet: 10.77.{}.0/24\n", n.subnet);
            if (n.range) y += fmt::format("          ip_range: 10.77.{}.128/25\n", n.subnet);
            if (n.ipv6) y += fmt::format("        - subnet: fd77:{}::/64\n", n.subnet);
        }
    }
    y += "services:\n";
    for (auto& [name, v] : s.services) {
        y += fmt::format("  {}:\n", name);
        if (!v.mode.empty()) {
            y += fmt::format("    network_mode: \"{}\"\n", v.mode);
            continue;
        }
        if (!v.nets.empty()) {
            y += "    networks:\n";
            for (size_t i = 0; i < v.nets.size(); ++i) {
                auto& a = v.nets[i];
                auto& n = s.networks.at(a.network);
                y += fmt::format("      {}:\n        priority: {}\n", a.network, 100 - int(i));
                if (a.host) {
                    y += fmt::format("        ipv4_address: 10.77.{}.{}\n", n.subnet, a.host);
                    if (n.ipv6) y += fmt::format("        ipv6_address: fd77:{}::{:x}\n", n.subnet, a.host);
                }
                if (!a.aliases.empty()) y += fmt::format("        aliases: [{}]\n", fmt::join(a.aliases, ", "));
            }
        }
        if (!v.ports.empty()) {
            y += "    ports:\n";
            for (int p : v.ports) y += fmt::format("      - \"{}:80\"\n", p);
        }
    }
    return y;
}

}  // namespace topo::gen
