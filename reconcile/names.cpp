#include "reconcile/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "model/naming.hpp"
#include "reconcile/desired.hpp"

namespace topo {

namespace {

// address → names, each name once, in the order first given.
struct Lines {
    std::vector<std::pair<IpAddr, std::vector<std::string>>> rows;
    void add(const IpAddr& a, std::vector<std::string> names) {
        for (auto& r : rows)
            if (r.first == a) {
                for (auto& n : names)
                    if (std::find(r.second.begin(), r.second.end(), n) == r.second.end()) r.second.push_back(n);
                return;
            }
        std::vector<std::string> unique;
        for (auto& n : names)
            if (std::find(unique.begin(), unique.end(), n) == unique.end()) unique.push_back(n);
        rows.push_back({a, unique});
    }
    std::string str() const {
        std::string out;
        for (auto& [a, names] : rows) out += fmt::format("{}\t{}\n", a.str(), fmt::join(names, " "));
        return out;
    }
};

std::vector<IpAddr> addresses(const EndpointAddressing* ea) {
    std::vector<IpAddr> out;
    if (ea && ea->v4) out.push_back(*ea->v4);
    if (ea && ea->v6) out.push_back(*ea->v6);
    return out;
}

}  // namespace

std::string hosts_file(const Project& p, const Addressing& a, const Service& s) {
    std::string out = naming::file_marker(p.name) + "\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    Lines self;
    for (auto& e : s.endpoints)
        for (auto& ip : addresses(a.endpoint(s.name, e.network))) self.add(ip, {s.hostname, s.name});
    if (self.rows.empty()) self.add(*IpAddr::parse("127.0.1.1"), {s.hostname, s.name});
    out += self.str();
    for (auto& e : s.endpoints) {
        Lines peers;
        for (auto& [_, other] : p.services) {
            if (other.name == s.name || !other.has_sandbox()) continue;
            for (auto& oe : other.endpoints) {
                if (oe.network != e.network) continue;
                std::vector<std::string> names{other.name, other.hostname};
                names.insert(names.end(), oe.aliases.begin(), oe.aliases.end());
                for (auto& ip : addresses(a.endpoint(other.name, oe.network))) peers.add(ip, names);
            }
        }
        // This sandbox's own aliases on the network resolve to itself.
        for (auto& ip : addresses(a.endpoint(s.name, e.network)))
            if (!e.aliases.empty()) peers.add(ip, e.aliases);
        if (!peers.rows.empty()) out += fmt::format("# network {}\n{}", e.network, peers.str());
    }
    if (!s.extra_hosts.empty()) {
        Lines extra;
        for (auto& [name, ip] : s.extra_hosts) extra.add(ip, {name});
        out += "# extra_hosts\n" + extra.str();
    }
    return out;
}

std::string resolv_conf(const Project& p, const Service& s, const std::string& host_resolv_conf) {
    std::string out = naming::file_marker(p.name) + "\n";
    if (!s.dns.empty() || !s.dns_search.empty() || !s.dns_opt.empty()) {
        for (auto& ip : s.dns) out += fmt::format("nameserver {}\n", ip.str());
        if (!s.dns_search.empty()) out += fmt::format("search {}\n", fmt::join(s.dns_search, " "));
        if (!s.dns_opt.empty()) out += fmt::format("options {}\n", fmt::join(s.dns_opt, " "));
        if (!s.dns.empty()) return out;
    }
    // The host's resolvers, less those on loopback: they are the host's own
    // 127.0.0.53-style stubs, unreachable from inside a sandbox (Docker drops them too).
    std::istringstream in(host_resolv_conf);
    std::string line;
    bool any = false;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key, value;
        words >> key >> value;
        if (key == "nameserver") {
            auto ip = IpAddr::parse(value);
            if (!ip || (ip->is_v4() && ip->bytes[0] == 127) || (ip->is_v6() && *ip == *IpAddr::parse("::1"))) continue;
            out += line + "\n";
            any = true;
        } else if ((key == "search" || key == "domain" || key == "options") && s.dns_search.empty() && s.dns_opt.empty()) {
            out += line + "\n";
        }
    }
    if (!any) out += "# no nameserver: the host's resolvers are all on loopback; set dns: in the manifest\n";
    return out;
}

std::vector<File> name_files(const Project& p, const Addressing& a, const NamesContext& ctx) {
    std::vector<File> out;
    for (auto& [_, s] : p.services) {
        if (!runs_here(p, s, ctx.host)) continue;
        auto dir = fmt::format("{}/{}", ctx.root, naming::netns(p.name, s.name));
        out.push_back({dir + "/hosts", hosts_file(p, a, s)});
        out.push_back({dir + "/resolv.conf", resolv_conf(p, s, ctx.host_resolv_conf)});
    }
    return out;
}

}  // namespace topo
