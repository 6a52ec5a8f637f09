// Reading the host: one link, address and route dump per namespace, and one
// more link dump of the host for the bridge port flags libnl does not read.
//
// Host namespace: topo's links (marker, or the project's generated name prefix
// while unmarked), the foreign links the scope names, and the addresses on
// topo's links. Each of the project's sandboxes (a /run/netns entry named
// <project>-* whose `lo` carries the project's marker): its veth ends (folded
// into the host end's Link), macvlan links, addresses and static routes.
#include <netlink/route/addr.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/route.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "kernel/files.hpp"
#include "kernel/netns.hpp"
#include "kernel/nft.hpp"
#include "kernel/real.hpp"
#include "model/naming.hpp"

namespace topo {

namespace {

struct Caches {
    nl::Cache links, addrs, routes;
};

Caches dump(RealKernel& k, const std::string& ns, bool routes) {
    nl_cache *l = nullptr, *a = nullptr, *r = nullptr;
    auto what = ns.empty() ? std::string("host namespace") : "netns " + ns;
    if (int err = rtnl_link_alloc_cache(k.sock(ns), AF_UNSPEC, &l); err < 0) nl::fail(what, "read links", err);
    Caches c{nl::Cache(l), nullptr, nullptr};
    if (int err = rtnl_addr_alloc_cache(k.sock(ns), &a); err < 0) nl::fail(what, "read addresses", err);
    c.addrs.reset(a);
    if (routes) {
        if (int err = rtnl_route_alloc_cache(k.sock(ns), AF_UNSPEC, 0, &r); err < 0) nl::fail(what, "read routes", err);
        c.routes.reset(r);
    }
    return c;
}

std::string str(const char* s) { return s ? s : ""; }

std::optional<Mac> mac_of(rtnl_link* l) {
    nl_addr* a = rtnl_link_get_addr(l);
    if (!a || nl_addr_get_len(a) != 6) return std::nullopt;
    Mac m;
    std::memcpy(m.bytes.data(), nl_addr_get_binary_addr(a), 6);
    return m;
}

std::optional<IpAddr> ip_of(nl_addr* a) {
    if (!a) return std::nullopt;
    IpAddr ip;
    int fam = nl_addr_get_family(a);
    if (fam == AF_INET && nl_addr_get_len(a) == 4) ip.family = 4;
    else if (fam == AF_INET6 && nl_addr_get_len(a) == 16) ip.family = 6;
    else return std::nullopt;
    std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(a), nl_addr_get_len(a));
    return ip;
}

std::string name_of(nl_cache* links, int idx) {
    char buf[IFNAMSIZ + 1] = {};
    return idx > 0 && rtnl_link_i2name(links, idx, buf, sizeof buf) ? buf : "";
}

Link base_link(rtnl_link* l, nl_cache* links, const std::string& ns) {
    Link out;
    out.ns = ns;
    out.name = str(rtnl_link_get_name(l));
    out.owner = str(rtnl_link_get_ifalias(l));
    out.mtu = rtnl_link_get_mtu(l);
    out.mac = mac_of(l);
    out.master = name_of(links, rtnl_link_get_master(l));
    out.up = rtnl_link_get_flags(l) & IFF_UP;
    out.ifindex = rtnl_link_get_ifindex(l);
    auto type = str(rtnl_link_get_type(l));
    out.kind = type == "veth" ? LinkKind::Veth : type == "macvlan" ? LinkKind::Macvlan
             : type == "vxlan" ? LinkKind::Vxlan : LinkKind::Bridge;
    return out;
}

bool is_link_local(const IpAddr& a) { return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80; }

void read_addresses(nl_cache* addrs, nl_cache* links, const std::string& ns,
                    const std::function<bool(int)>& wanted, HostState& out) {
    for (auto* o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
        auto* a = (rtnl_addr*)o;
        if (!wanted(rtnl_addr_get_ifindex(a))) continue;
        auto ip = ip_of(rtnl_addr_get_local(a));
        if (!ip || is_link_local(*ip)) continue;
        out.add(Address{ns, name_of(links, rtnl_addr_get_ifindex(a)), {*ip, uint8_t(rtnl_addr_get_prefixlen(a))}});
    }
}

void read_routes(nl_cache* routes, nl_cache* links, const std::string& ns, HostState& out) {
    for (auto* o = nl_cache_get_first(routes); o; o = nl_cache_get_next(o)) {
        auto* r = (rtnl_route*)o;
        if (rtnl_route_get_table(r) != RT_TABLE_MAIN || rtnl_route_get_protocol(r) != RTPROT_STATIC) continue;
        nl_addr* dst = rtnl_route_get_dst(r);
        Route route;
        route.ns = ns;
        auto d = ip_of(dst);
        if (!d) {  // a default route may come without a destination address
            d = IpAddr{};
            d->family = rtnl_route_get_family(r) == AF_INET ? 4 : 6;
        }
        route.dst = {*d, uint8_t(dst ? nl_addr_get_prefixlen(dst) : 0)};
        if (rtnl_route_get_nnexthops(r) > 0) {
            auto* nh = rtnl_route_nexthop_n(r, 0);
            route.gateway = ip_of(rtnl_route_nh_get_gateway(nh));
            route.dev = name_of(links, rtnl_route_nh_get_ifindex(nh));
        }
        out.add(route);
    }
}

// The host end of each veth, by its ifindex, to be completed from the sandbox end.
using VethEnds = std::map<int, Link*>;

void read_sandbox(RealKernel& k, const std::string& ns, const std::string& marker, nl_cache* host_links,
                  std::map<int, Link>& host_veths, HostState& out) {
    out.add(Netns{ns, marker});
    auto c = dump(k, ns, true);
    for (auto* o = nl_cache_get_first(c.links.get()); o; o = nl_cache_get_next(o)) {
        auto* l = (rtnl_link*)o;
        Link link = base_link(l, c.links.get(), ns);
        if (link.owner.empty()) link.owner = marker;  // inside topo's sandbox: topo's
        if (link.kind == LinkKind::Veth) {
            auto it = host_veths.find(rtnl_link_get_link(l));
            if (it == host_veths.end()) continue;
            it->second.peer_ns = ns;
            it->second.peer_name = link.name;
            it->second.peer_mac = link.mac;
            it->second.peer_owner = str(rtnl_link_get_ifalias(l));
        } else if (link.kind == LinkKind::Macvlan) {
            link.parent = name_of(host_links, rtnl_link_get_link(l));
            char buf[32];
            link.macvlan_mode = str(rtnl_link_macvlan_mode2str(int(rtnl_link_macvlan_get_mode(l)), buf, sizeof buf));
            out.add(link);
        }
    }
    read_addresses(c.addrs.get(), c.links.get(), ns, [&](int idx) { return name_of(c.links.get(), idx) != "lo"; }, out);
    read_routes(c.routes.get(), c.links.get(), ns, out);
}

// A link named like the project's generated names ("tb3f09…"): topo's, even if
// a crash came between creating it and marking it.
bool has_project_prefix(const std::string& name, const std::string& project) {
    auto prefix = naming::bridge(project, "").substr(2, 4);
    return name.size() == 12 && name[0] == 't' && name.substr(2, 4) == prefix;
}

}  // namespace

HostState read_host(RealKernel& k, const ReadScope& scope) {
    HostState out;
    auto host = dump(k, "", false);
    std::map<int, Link> host_veths;
    std::set<int> ours;
    for (auto* o = nl_cache_get_first(host.links.get()); o; o = nl_cache_get_next(o)) {
        auto* l = (rtnl_link*)o;
        Link link = base_link(l, host.links.get(), "");
        bool marked = naming::owned_by(link.owner, scope.project);
        bool unmarked_ours = link.owner.empty() && has_project_prefix(link.name, scope.project);
        bool foreign = std::find(scope.foreign_links.begin(), scope.foreign_links.end(), link.name) !=
                       scope.foreign_links.end();
        if (unmarked_ours) link.owner = naming::project_marker(scope.project) + "unmarked";
        if (!marked && !unmarked_ours) {
            if (!foreign) continue;
            link.owner.clear();  // read, never changed
        } else {
            ours.insert(link.ifindex);
        }
        if (link.kind == LinkKind::Veth && !link.owner.empty()) host_veths[link.ifindex] = link;
        else out.add(link);
    }
    read_addresses(host.addrs.get(), host.links.get(), "", [&](int idx) { return ours.count(idx) > 0; }, out);
    auto prefix = scope.project + "-";
    for (auto& ns : netns::list()) {
        if (!ns.starts_with(prefix)) continue;
        if (netns::is_residue(ns)) {
            // A create killed before the mount: an empty file, collected like a namespace.
            out.add(Netns{ns, naming::project_marker(scope.project) + "residue"});
            continue;
        }
        rtnl_link* lo = nullptr;
        if (rtnl_link_get_kernel(k.sock(ns), 0, "lo", &lo) < 0) continue;
        auto marker = str(rtnl_link_get_ifalias(lo));
        rtnl_link_put(lo);
        if (naming::owned_by(marker, scope.project)) read_sandbox(k, ns, marker, host.links.get(), host_veths, out);
    }
    if (!host_veths.empty()) {
        // libnl does not read bridge port flags: one more dump, for the isolated flag.
        auto isolated = bridge_port_isolation(k.sock(""), "host namespace");
        for (auto& [idx, v] : host_veths)
            if (auto it = isolated.find(idx); it != isolated.end()) v.isolated = it->second;
    }
    for (auto& [_, v] : host_veths) out.add(v);
    if (auto table = nft::read(naming::nft_table(scope.project))) out.add(*table);
    for (auto& key : scope.sysctls) out.add(Sysctl{"", key, sysctl_read(k, "", key)});
    // Files: the ones the manifest wants, and any marked as the project's
    // under /etc/netns (a removed service's, or all of them on destroy).
    std::set<std::string> paths(scope.files.begin(), scope.files.end());
    std::error_code ec;
    for (auto& dir : std::filesystem::directory_iterator("/etc/netns", ec))
        if (dir.path().filename().string().starts_with(prefix))
            for (auto* f : {"hosts", "resolv.conf"}) paths.insert((dir.path() / f).string());
    for (auto& path : paths) {
        auto content = files::read(path);
        if (!content) continue;
        bool wanted = std::find(scope.files.begin(), scope.files.end(), path) != scope.files.end();
        // A file topo did not write is never read as topo's (so never deleted);
        // one it wants to write over is shown as it is, to be replaced.
        if (naming::has_file_marker(*content, scope.project) || wanted) out.add(File{path, *content});
    }
    return out;
}

}  // namespace topo
