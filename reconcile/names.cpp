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

// address → names, each name once, in the order first given. Indexed: a
// sandbox's file lists every peer, so linear scans here made N files O(N³).
struct Lines {
    std::vector<std::pair<IpAddr, std::vector<std::string>>> rows;
    std::map<IpAddr, size_t> index;
    std::set<std::pair<size_t, std::string>> seen;
    void add(const IpAddr& a, const std::vector<std::string>& names) {
        auto [it, fresh] = index.insert({a, rows.size()});
        if (fresh) rows.push_back({a, {}});
        auto& row = rows[it->second];
        for (auto& n : names)
            if (seen.insert({it->second, n}).second) row.second.push_back(n);
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

// Every sandbox's lines on each network, rendered once: a file then only
// concatenates its peers' lines, so N files cost O(N²) bytes and no more.
struct Member {
    std::string service;
    std::string lines;  // "addr\tservice hostname aliases...\n" per address
};
using Members = std::map<std::string, std::vector<Member>>;

Members members(const Project& p, const Addressing& a) {
    Members out;
    for (auto& [_, other] : p.services) {
        if (!other.has_sandbox()) continue;
        for (auto& oe : other.endpoints) {
            Lines l;
            std::vector<std::string> names{other.name, other.hostname};
            names.insert(names.end(), oe.aliases.begin(), oe.aliases.end());
            for (auto& ip : addresses(a.endpoint(other.name, oe.network))) l.add(ip, names);
            out[oe.network].push_back({other.name, l.str()});
        }
    }
    return out;
}

std::string render_hosts(const Project& p, const Addressing& a, const Service& s, const Members& m) {
    std::string out = naming::file_marker(p.name) + "\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
    Lines self;
    for (auto& e : s.endpoints)
        for (auto& ip : addresses(a.endpoint(s.name, e.network))) self.add(ip, {s.hostname, s.name});
    if (self.rows.empty()) self.add(*IpAddr::parse("127.0.1.1"), {s.hostname, s.name});
    out += self.str();
    for (auto& e : s.endpoints) {
        std::string section;
        if (auto it = m.find(e.network); it != m.end())
            for (auto& member : it->second)
                if (member.service != s.name) section += member.lines;
        // This sandbox's own aliases on the network resolve to itself.
        Lines own;
        for (auto& ip : addresses(a.endpoint(s.name, e.network)))
            if (!e.aliases.empty()) own.add(ip, e.aliases);
        section += own.str();
        if (!section.empty()) out += fmt::format("# network {}\n{}", e.network, section);
    }
    if (!s.extra_hosts.empty()) {
        Lines extra;
        for (auto& [name, ip] : s.extra_hosts) extra.add(ip, {name});
        out += "# extra_hosts\n" + extra.str();
    }
    return out;
}

}  // namespace

std::string hosts_file(const Project& p, const Addressing& a, const Service& s) {
    return render_hosts(p, a, s, members(p, a));
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
    auto m = members(p, a);
    for (auto& [_, s] : p.services) {
        if (!runs_here(p, s, ctx.host)) continue;
        auto dir = fmt::format("{}/{}", ctx.root, naming::netns(p.name, s.name));
        out.push_back({dir + "/hosts", render_hosts(p, a, s, m)});
        out.push_back({dir + "/resolv.conf", resolv_conf(p, s, ctx.host_resolv_conf)});
    }
    return out;
}

}  // namespace topo
