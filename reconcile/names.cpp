// Hosts and resolv.conf for each sandbox (reconcile/names.hpp), as shared
// per-network files and links to them where a sandbox needs nothing of its own.
#include "reconcile/names.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "model/naming.hpp"

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
        for (auto& [a, names] : rows) {
            (out += a.str()) += '\t';
            for (size_t i = 0; i < names.size(); ++i) (out += i ? " " : "") += names[i];
            out += '\n';
        }
        return out;
    }
};

std::vector<IpAddr> addresses(const EndpointAddressing* ea) {
    std::vector<IpAddr> out;
    if (ea && ea->v4) out.push_back(*ea->v4);
    if (ea && ea->v6) out.push_back(*ea->v6);
    return out;
}

// Every sandbox's lines on a network, rendered once into one block shared by
// all files: a file is its own lines plus, per network, the block less its
// own member's slice — a few slices of shared strings (model/text.hpp), so N
// files take O(N) memory while their bytes are O(N²).
struct Block {
    std::shared_ptr<const std::string> text;
    std::map<std::string, std::pair<size_t, size_t>> member;  // service → [begin, end) of its lines
};
using Members = std::map<std::string, Block>;

// One member's lines: each address with its service's name, hostname and the
// endpoint's aliases, each once and in that order (what Lines::add makes,
// written straight: the 5,000 members of a large overlay took 3 ms as Lines).
void member_lines(std::string& t, const Service& s, const Endpoint& e, const EndpointAddressing* ea) {
    auto name = [&](size_t i) -> const std::string& {
        return i == 0 ? s.name : i == 1 ? s.hostname : e.aliases[i - 2];
    };
    size_t count = 2 + e.aliases.size();
    for (auto& ip : addresses(ea)) {
        (t += ip.str()) += '\t';
        bool first = true;
        for (size_t i = 0; i < count; ++i) {
            bool again = false;
            for (size_t j = 0; j < i && !again; ++j) again = name(j) == name(i);
            if (again) continue;
            (t += first ? "" : " ") += name(i);
            first = false;
        }
        t += '\n';
    }
}

// `host`: only the slices of that host's sandboxes are kept (only their files
// are rendered); every one without.
Members members(const Project& p, const Addressing& a, const std::string* host = nullptr) {
    std::map<std::string, std::string> text;
    Members out;
    for (auto& [_, other] : p.services) {
        if (!other.has_sandbox()) continue;
        bool here = !host || runs_here(p, other, *host);
        for (auto& oe : other.endpoints) {
            auto& t = text[oe.network];
            auto begin = t.size();
            member_lines(t, other, oe, a.endpoint(other.name, oe.network));
            if (here) out[oe.network].member[other.name] = {begin, t.size()};
        }
    }
    for (auto& [network, t] : text) out[network].text = std::make_shared<const std::string>(std::move(t));
    return out;
}

std::string hosts_head(const Project& p) {
    return naming::file_marker(p.name) + "\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
}

Text render_hosts(const Project& p, const Addressing& a, const Service& s, const Members& m) {
    std::string head = hosts_head(p);
    Lines self;
    for (auto& e : s.endpoints)
        for (auto& ip : addresses(a.endpoint(s.name, e.network))) self.add(ip, {s.hostname, s.name});
    if (self.rows.empty()) self.add(*IpAddr::parse("127.0.1.1"), {s.hostname, s.name});
    Text out(head + self.str());
    for (auto& e : s.endpoints) {
        Text section;
        if (auto it = m.find(e.network); it != m.end()) {
            auto& b = it->second;
            auto own = b.member.find(s.name);
            auto [skip_begin, skip_end] = own == b.member.end() ? std::pair<size_t, size_t>{0, 0} : own->second;
            section.append(b.text, 0, skip_begin);
            section.append(b.text, skip_end, b.text->size());
        }
        // This sandbox's own aliases on the network resolve to itself.
        Lines own;
        for (auto& ip : addresses(a.endpoint(s.name, e.network)))
            if (!e.aliases.empty()) own.add(ip, e.aliases);
        section.append(own.str());
        if (section.empty()) continue;
        out.append(fmt::format("# network {}\n", e.network));
        out.append(section);
    }
    // A link's alias, in this sandbox only: the linked service's address on
    // the first network (in interface order) they share.
    if (!s.links.empty()) {
        Lines linked;
        for (auto& [target, alias] : s.links)
            for (auto& e : s.endpoints)
                if (auto ips = addresses(a.endpoint(target, e.network)); !ips.empty()) {
                    for (auto& ip : ips) linked.add(ip, {alias});
                    break;
                }
        if (!linked.rows.empty()) out.append("# links\n" + linked.str());
    }
    if (!s.extra_hosts.empty()) {
        Lines extra;
        for (auto& [name, ip] : s.extra_hosts) {
            if (ip) {
                extra.add(*ip, {name});
                continue;
            }
            // host-gateway: the host, where the sandbox reaches it (the
            // gateway of its first network that has one), as Docker's
            // docker0 address. Nothing when it has none.
            for (auto& e : s.endpoints)
                if (auto it = a.networks.find(e.network); it != a.networks.end() && (it->second.gateway4 || it->second.gateway6)) {
                    for (auto& g : {it->second.gateway4, it->second.gateway6})
                        if (g) extra.add(*g, {name});
                    break;
                }
        }
        out.append("# extra_hosts\n" + extra.str());
    }
    return out;
}

}  // namespace

std::string hosts_file(const Project& p, const Addressing& a, const Service& s) {
    return render_hosts(p, a, s, members(p, a)).str();
}

namespace {

bool has_dns_settings(const Service& s) { return !s.dns.empty() || !s.dns_search.empty() || !s.dns_opt.empty(); }

}  // namespace

std::string resolv_conf(const Project& p, const Service& s, const std::string& host_resolv_conf) {
    std::string out = naming::file_marker(p.name) + "\n";
    if (has_dns_settings(s)) {
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

namespace {

// A sandbox that resolves exactly its one network's members (its own line
// is theirs too) links to the network's file.
bool shares_network_file(const Service& s) {
    return s.endpoints.size() == 1 && s.extra_hosts.empty() && s.links.empty() && s.hostname == s.name;
}

}  // namespace

std::vector<HostsEntry> parse_hosts(std::string_view text) {
    std::vector<HostsEntry> out;
    std::string section;
    for (size_t at = 0; at < text.size();) {
        auto end = std::min(text.find('\n', at), text.size());
        auto line = text.substr(at, end - at);
        at = end + 1;
        if (line.starts_with("# network ")) section = std::string(line.substr(10));
        else if (line.starts_with("# extra_hosts")) section = "extra_hosts";
        else if (line.starts_with("# links")) section = "links";
        else if (!section.empty() && !line.empty() && line[0] != '#') {
            auto tab = line.find('\t');
            if (tab == std::string_view::npos) continue;
            out.push_back({section, std::string(line.substr(0, tab)), std::string(line.substr(tab + 1))});
        }
    }
    return out;
}

std::vector<File> name_files(const Project& p, const Addressing& a, const NamesContext& ctx) {
    std::vector<File> out;
    auto m = members(p, a, &ctx.host);
    std::set<std::string> shared;  // networks whose file some sandbox here links to
    auto shared_dir = naming::shared_files_dir(p.name);
    // Every sandbox without dns settings has the same resolv.conf (from the
    // host's): one file, linked to like a network's hosts file.
    bool plain_resolv = false;
    for (auto& [_, s] : p.services) {
        if (!runs_here(p, s, ctx.host)) continue;
        auto dir = fmt::format("{}/{}", ctx.root, naming::netns(p.name, s.name));
        if (shares_network_file(s)) {
            auto& network = s.endpoints.front().network;
            shared.insert(network);
            out.push_back({dir + "/hosts", {}, fmt::format("../{}/{}", shared_dir, network)});
        } else {
            out.push_back({dir + "/hosts", render_hosts(p, a, s, m), {}});
        }
        if (has_dns_settings(s)) {
            out.push_back({dir + "/resolv.conf", resolv_conf(p, s, ctx.host_resolv_conf), {}});
        } else {
            plain_resolv = true;
            out.push_back({dir + "/resolv.conf", {}, fmt::format("../{}/{}", shared_dir, naming::shared_resolv_conf)});
        }
    }
    if (plain_resolv) {
        Service plain;  // the host's resolvers, as a service without dns settings has them
        out.push_back({fmt::format("{}/{}/{}", ctx.root, shared_dir, naming::shared_resolv_conf),
                       resolv_conf(p, plain, ctx.host_resolv_conf), {}});
    }
    for (auto& network : shared) {
        Text t(hosts_head(p) + fmt::format("# network {}\n", network));
        if (auto it = m.find(network); it != m.end()) t.append(it->second.text, 0, it->second.text->size());
        out.push_back({fmt::format("{}/{}/{}", ctx.root, shared_dir, network), std::move(t), {}});
    }
    return out;
}

namespace {

// What a service's endpoint gives the files: its network, its aliases and
// addresses, its interface order.
bool same_endpoints(const Service& x, const Addressing& xa, const Service& y, const Addressing& ya) {
    if (x.endpoints.size() != y.endpoints.size()) return false;
    for (size_t i = 0; i < x.endpoints.size(); ++i) {
        auto &e = x.endpoints[i], &f = y.endpoints[i];
        if (e.network != f.network || e.aliases != f.aliases) return false;
        auto *ea = xa.endpoint(x.name, e.network), *fa = ya.endpoint(y.name, f.network);
        if ((ea && ea->v4) != (fa && fa->v4) || (ea && ea->v4 && ea->v4 != fa->v4)) return false;
        if ((ea && ea->v6) != (fa && fa->v6) || (ea && ea->v6 && ea->v6 != fa->v6)) return false;
    }
    return true;
}

}  // namespace

bool same_name_files(const Project& was, const Addressing& was_addressing, const Project& p, const Addressing& a,
                     const std::string& host, const std::set<std::string>& touched) {
    for (auto& name : touched) {
        auto x = was.services.find(name), y = p.services.find(name);
        bool in_x = x != was.services.end() && x->second.has_sandbox();
        bool in_y = y != p.services.end() && y->second.has_sandbox();
        if (in_x != in_y) return false;
        if (!in_x) continue;
        auto &s = x->second, &t = y->second;
        // Everything members() and the files of this host's sandboxes read.
        if (runs_here(was, s, host) != runs_here(p, t, host) || s.hostname != t.hostname || s.links != t.links ||
            s.extra_hosts != t.extra_hosts || s.dns != t.dns || s.dns_search != t.dns_search || s.dns_opt != t.dns_opt ||
            !same_endpoints(s, was_addressing, t, a))
            return false;
    }
    return true;
}

}  // namespace topo
