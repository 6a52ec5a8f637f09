// Reading the host: one link, address and route dump per namespace, each
// from one socket opened inside that namespace (route dumps cannot target
// another namespace by netnsid, link and address dumps could), and one more
// link dump of the host for the bridge port flags libnl does not read.
//
// Host namespace: topo's links (marker, or the project's generated name prefix
// while unmarked), the foreign links the scope names, and the addresses on
// topo's links. Each of the project's sandboxes (a /run/netns entry named
// <project>-* whose `lo` carries the project's marker): its veth ends (folded
// into the host end's Link), macvlan links, addresses and static routes.
#include <netlink/route/addr.h>
#include <netlink/route/link/macvlan.h>
#include <netlink/route/route.h>

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <unordered_set>

#include "kernel/files.hpp"
#include "kernel/netns.hpp"
#include "kernel/nft.hpp"
#include "kernel/real.hpp"
#include "model/naming.hpp"
#include "model/trace.hpp"
#include "state/store.hpp"

namespace topo {

namespace {

struct Caches {
    nl::Cache links, addrs, routes;
};

std::string what_of(const std::string& ns) { return ns.empty() ? std::string("host namespace") : "netns " + ns; }

nl::Cache dump_links(nl_sock* s, const std::string& ns) {
    nl_cache* l = nullptr;
    if (int err = rtnl_link_alloc_cache(s, AF_UNSPEC, &l); err < 0) nl::fail(what_of(ns), "read links", err);
    return nl::Cache(l);
}

// Addresses (and routes), after the links they refer to.
void dump_rest(nl_sock* s, const std::string& ns, bool routes, Caches& c) {
    nl_cache *a = nullptr, *r = nullptr;
    if (int err = rtnl_addr_alloc_cache(s, &a); err < 0) nl::fail(what_of(ns), "read addresses", err);
    c.addrs.reset(a);
    if (routes) {
        if (int err = rtnl_route_alloc_cache(s, AF_UNSPEC, 0, &r); err < 0) nl::fail(what_of(ns), "read routes", err);
        c.routes.reset(r);
    }
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

// One sandbox, read by a worker thread into values of its own; what refers to
// the host namespace (a veth's host end, a macvlan's parent) is left as an
// ifindex for the merge, so workers share no libnl object.
struct Sandbox {
    std::string ns;
    nl_sock* sock = nullptr;  // the kernel's socket for `ns`, if it has one
    nl::Sock opened;          // or one opened by the worker, handed to the kernel
    bool residue = false;
    HostState state;  // empty: not the project's
    struct PeerEnd {
        int host_ifindex;
        std::string name, owner;
        std::optional<Mac> mac;
    };
    std::vector<PeerEnd> peers;
    std::vector<std::pair<Link, int>> macvlans;  // with the parent's host ifindex
    std::exception_ptr error;
};

// A socket inside the namespace: the worker thread enters it for good
// (setns moves only the calling thread), the socket stays bound to it.
nl_sock* enter(Sandbox& sb) {
    if (sb.sock) return sb.sock;
    int fd = netns::open_fd(sb.ns);
    if (fd < 0) {
        if (errno == ENOENT) return nullptr;  // deleted since it was listed
        nl::fail_errno("netns " + sb.ns, "open");
    }
    int rc = ::setns(fd, CLONE_NEWNET), err = errno;
    ::close(fd);
    if (rc != 0) {
        // EINVAL on an empty file: a create killed before the mount. Anything
        // else is an error: taking the sandbox for absent would plan to create it.
        if (err == EINVAL && netns::is_residue(sb.ns)) return sb.residue = true, nullptr;
        errno = err;
        nl::fail_errno("netns " + sb.ns, "enter");
    }
    sb.opened = nl::connect_route(false);  // a sandbox's dumps are small
    return sb.opened.get();
}

void read_sandbox(Sandbox& sb, const std::string& project) {
    nl_sock* s = enter(sb);
    if (!s) return;
    // The marker is on `lo`, which the sandbox's link dump holds anyway.
    Caches c{dump_links(s, sb.ns), nullptr, nullptr};
    auto* lo = rtnl_link_get_by_name(c.links.get(), "lo");
    if (!lo) return;
    auto marker = str(rtnl_link_get_ifalias(lo));
    rtnl_link_put(lo);
    if (!naming::owned_by(marker, project)) return;
    auto& out = sb.state;
    out.add(Netns{sb.ns, marker});
    dump_rest(s, sb.ns, true, c);
    for (auto* o = nl_cache_get_first(c.links.get()); o; o = nl_cache_get_next(o)) {
        auto* l = (rtnl_link*)o;
        Link link = base_link(l, c.links.get(), sb.ns);
        if (link.owner.empty()) link.owner = marker;  // inside topo's sandbox: topo's
        if (link.kind == LinkKind::Veth) {
            sb.peers.push_back({rtnl_link_get_link(l), link.name, str(rtnl_link_get_ifalias(l)), link.mac});
        } else if (link.kind == LinkKind::Macvlan) {
            char buf[32];
            link.macvlan_mode = str(rtnl_link_macvlan_mode2str(int(rtnl_link_macvlan_get_mode(l)), buf, sizeof buf));
            sb.macvlans.push_back({link, rtnl_link_get_link(l)});
        }
    }
    read_addresses(c.addrs.get(), c.links.get(), sb.ns, [&](int idx) { return name_of(c.links.get(), idx) != "lo"; }, out);
    read_routes(c.routes.get(), c.links.get(), sb.ns, out);
}

// Sandboxes are independent, and recent kernels answer link, address and
// route dumps without the rtnl lock: spread them over a few threads.
void read_sandboxes(std::vector<Sandbox>& all, const std::string& project) {
    std::atomic<size_t> next{0};
    auto work = [&] {
        for (size_t i; (i = next++) < all.size();) {
            try {
                read_sandbox(all[i], project);
            } catch (...) {
                all[i].error = std::current_exception();
            }
        }
    };
    if (all.empty()) return;
    // Never the calling thread: a worker stays in the last namespace it entered.
    size_t n = std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 4, all.size() / 64 + 1});
    std::vector<std::thread> threads;
    try {
        for (size_t t = 0; t < n; ++t) threads.emplace_back(work);
    } catch (const std::system_error&) {  // a pids limit: go on with the threads there are
        if (threads.empty()) throw KernelError("read sandboxes: cannot start a thread");
    }
    for (auto& t : threads) t.join();
}

// A link named like the project's generated names ("tb3f09…"): topo's, even if
// a crash came between creating it and marking it.
bool has_project_prefix(const std::string& name, const std::string& project) {
    auto prefix = naming::bridge(project, "").substr(2, 4);
    return name.size() == 12 && name[0] == 't' && name.substr(2, 4) == prefix;
}

// What a run killed while writing a sandbox's files leaves in its /etc/netns
// directory: the directory alone, or a temporary file without the file it was
// to become. Shown as an empty file of the project's, so that apply writes it
// and destroy removes it, temporary file and directory included. An empty
// directory holds nothing of anyone's, so taking it for topo's loses nothing.
void add_residue(const std::filesystem::path& dir, HostState& out) {
    std::error_code ec;
    if (std::filesystem::is_empty(dir, ec) && !ec) {
        out.add(File{(dir / "hosts").string(), ""});
        return;
    }
    for (auto* f : {"hosts", "resolv.conf"}) {
        auto path = (dir / f).string();
        if (!std::filesystem::exists(path, ec) && std::filesystem::exists(temp_path_for(path), ec))
            out.add(File{path, ""});
    }
}

}  // namespace

HostState read_host(RealKernel& k, const ReadScope& scope) {
    HostState out;
    std::optional<trace::Span> phase(std::in_place, "read host dumps");
    Caches host{dump_links(k.sock(""), ""), nullptr, nullptr};
    dump_rest(k.sock(""), "", false, host);
    std::unordered_set<std::string> foreign_links(scope.foreign_links.begin(), scope.foreign_links.end());
    std::map<int, Link> host_veths;
    std::set<int> ours;
    for (auto* o = nl_cache_get_first(host.links.get()); o; o = nl_cache_get_next(o)) {
        auto* l = (rtnl_link*)o;
        Link link = base_link(l, host.links.get(), "");
        bool marked = naming::owned_by(link.owner, scope.project);
        bool unmarked_ours = link.owner.empty() && has_project_prefix(link.name, scope.project);
        bool foreign = foreign_links.count(link.name) > 0;
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
    phase.emplace("read sandboxes");
    auto prefix = scope.project + "-";
    std::vector<Sandbox> sandboxes;
    auto in_scope = [&](const std::string& ns) { return !scope.only_sandboxes || scope.only_sandboxes->count(ns); };
    for (auto& ns : netns::list())
        if (ns.starts_with(prefix) && in_scope(ns)) {
            sandboxes.emplace_back();
            sandboxes.back().ns = ns;
            sandboxes.back().sock = k.cached_sock(ns);
        }
    // Workers open a socket per sandbox: grow the descriptor table now, while
    // this thread is alone; a table shared by threads waits for an RCU grace
    // period each time it grows (~70 ms in all at 1000 sandboxes).
    if (int fd = ::fcntl(nl_socket_get_fd(k.sock("")), F_DUPFD_CLOEXEC, int(sandboxes.size()) + 64); fd >= 0)
        ::close(fd);
    read_sandboxes(sandboxes, scope.project);
    for (auto& sb : sandboxes) {
        if (sb.error) std::rethrow_exception(sb.error);
        if (sb.opened) k.adopt(sb.ns, std::move(sb.opened));
        // A create killed before the mount: an empty file, collected like a namespace.
        if (sb.residue) out.add(Netns{sb.ns, naming::project_marker(scope.project) + "residue"});
        for (auto& [key, o] : sb.state.objects) out.objects.insert_or_assign(key, std::move(o));
        for (auto& p : sb.peers) {
            auto it = host_veths.find(p.host_ifindex);
            if (it == host_veths.end()) continue;
            it->second.peer_ns = sb.ns;
            it->second.peer_name = p.name;
            it->second.peer_mac = p.mac;
            it->second.peer_owner = p.owner;
        }
        for (auto& [link, parent] : sb.macvlans) {
            link.parent = name_of(host.links.get(), parent);
            out.add(link);
        }
    }
    phase.emplace("read port flags");
    if (!host_veths.empty()) {
        // libnl does not read bridge port flags: one more dump, for the isolated flag.
        auto isolated = bridge_port_isolation(k.sock(""), "host namespace");
        for (auto& [idx, v] : host_veths)
            if (auto it = isolated.find(idx); it != isolated.end()) v.isolated = it->second;
    }
    for (auto& [_, v] : host_veths) out.add(v);
    phase.emplace("read nft");
    if (auto table = nft::read(naming::nft_table(scope.project))) out.add(*table);
    for (auto& key : scope.sysctls) out.add(Sysctl{"", key, sysctl_read(k, "", key)});
    phase.emplace("read files");
    // Files: the ones the manifest wants, and any marked as the project's
    // under /etc/netns (a removed service's, or all of them on destroy).
    std::set<std::string> paths(scope.files.begin(), scope.files.end());
    std::unordered_set<std::string> wanted_files(scope.files.begin(), scope.files.end());
    std::error_code ec;
    std::unordered_set<std::string> known(scope.sandboxes.begin(), scope.sandboxes.end());
    for (auto& [key, o] : out.objects)
        if (key.kind == Kind::Netns) known.insert(key.id);
    if (!scope.only_sandboxes)
        for (auto& dir : std::filesystem::directory_iterator("/etc/netns", ec))
            if (dir.path().filename().string().starts_with(prefix)) {
                for (auto* f : {"hosts", "resolv.conf"}) paths.insert((dir.path() / f).string());
                if (known.count(dir.path().filename().string())) add_residue(dir.path(), out);
            }
    for (auto& path : paths) {
        auto content = files::read(path);
        if (!content) continue;
        bool wanted = wanted_files.count(path) > 0;
        // A file topo did not write is never read as topo's (so never deleted);
        // one it wants to write over is shown as it is, to be replaced.
        if (naming::has_file_marker(*content, scope.project) || wanted) out.add(File{path, std::move(*content)});
    }
    return out;
}

}  // namespace topo
