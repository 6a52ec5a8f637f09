// Observing the host (Kernel::observe): a link and an address dump per
// namespace, and in a sandbox a route dump per family, each on a socket
// opened inside that namespace (route dumps cannot target another namespace
// by netnsid, link and address dumps could), parsed by kernel/dump.cpp. What
// is seen is handed back as it is; which of it is the project's is decided
// by model/observation.hpp's judge, the same for the fake kernel.
//
// Host namespace: every link (or, for a narrow read, the links asked for by
// name, with the bridges, parents and underlays they name) and their
// addresses; a VXLAN device's static entries, and the static routes through
// a macvlan link of the host's, where there is one. Each sandbox (a
// /run/netns entry named <project>-*): its `lo`'s marker, and where that is
// the project's, its veth ends (naming their host ends), macvlan links,
// addresses and static routes. The files and directories under /etc/netns
// where topo keeps the project's files.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <unordered_set>

#include "io/file.hpp"
#include "kernel/files.hpp"
#include "kernel/links.hpp"
#include "kernel/netns.hpp"
#include "kernel/nft.hpp"
#include "kernel/real.hpp"
#include "model/naming.hpp"
#include "model/ownership.hpp"
#include "model/trace.hpp"

namespace topo {

namespace {

std::string what_of(const std::string& ns) { return ns.empty() ? std::string("host namespace") : "netns " + ns; }

Link base_link(const LinkDump::Entry& l, const LinkDump& links, const std::string& ns) {
    Link out;
    out.ns = ns;
    out.name = l.name;
    out.owner = l.alias;
    out.mtu = l.mtu;
    out.mac = l.mac;
    out.master = links.name(l.master);
    out.up = l.flags & IFF_UP;
    out.ifindex = l.ifindex;
    out.kind = links::kind_named(l.kind);
    if (out.kind == LinkKind::Macvlan) out.macvlan = Macvlan{"", l.macvlan_mode};  // the parent: named by the caller
    out.vxlan = l.vxlan;
    return out;
}

std::vector<Address> addresses(const std::vector<AddrEntry>& addrs, const LinkDump& links, const std::string& ns) {
    std::vector<Address> out;
    out.reserve(addrs.size());
    for (auto& a : addrs) out.push_back(Address{ns, links.name(a.ifindex), a.prefix});
    return out;
}

std::vector<Route> routes(const std::vector<RouteEntry>& entries, const LinkDump& links, const std::string& ns) {
    std::vector<Route> out;
    for (auto& r : entries) {
        if (r.table != RT_TABLE_MAIN || r.protocol != RTPROT_STATIC) continue;
        Route route;
        route.ns = ns;
        route.dst = r.dst;
        route.gateway = r.gateway;
        route.dev = links.name(r.oif);
        out.push_back(std::move(route));
    }
    return out;
}

// One sandbox, read by a worker thread into values of its own; what refers to
// the host namespace (a veth's host end, a macvlan's parent) is left as an
// ifindex for the merge, so workers share no libnl object.
struct Sandbox {
    Observation::Sandbox seen;
    int fd = -1;  // the kernel's socket for the namespace, if it has one
    // The other ends' host ifindexes, by the index of the link in seen.links.
    std::vector<std::pair<size_t, int>> host_ends;
};

// Enters the sandbox's namespace for good (setns moves only the calling
// thread: a socket opened next is bound to the sandbox); false when there is
// nothing to read.
bool enter(Sandbox& sb) {
    int fd = netns::open_fd(sb.seen.name);
    if (fd < 0) {
        if (errno == ENOENT) return false;  // deleted since it was listed
        nl::fail_errno("netns " + sb.seen.name, "open");
    }
    int rc = ::setns(fd, CLONE_NEWNET), err = errno;
    ::close(fd);
    if (rc != 0) {
        // EINVAL on an empty file: a create killed before the mount. Anything
        // else is an error: taking the sandbox for absent would plan to create it.
        if (err == EINVAL && netns::is_residue(sb.seen.name)) return sb.seen.residue = true, false;
        errno = err;
        nl::fail_errno("netns " + sb.seen.name, "enter");
    }
    return true;
}

// Its `lo`'s marker, and where that marks it as the project's (the only
// case in which the rules keep more of it), its links, addresses and routes.
void read_sandbox(Sandbox& sb, const std::string& project) {
    std::optional<RouteSocket> own;
    bool strict = false;  // a cached socket is libnl's too: left as it is
    if (sb.fd < 0) {
        if (!enter(sb)) return;
        sb.fd = own.emplace().fd();
        strict = strict_checking(sb.fd);
    }
    auto& seen = sb.seen;
    auto what = what_of(seen.name);
    // The marker is on `lo`, which the sandbox's link dump holds anyway.
    auto links = dump_links(sb.fd, what);
    auto* lo = links.find("lo");
    if (!lo) return;
    seen.lo_marker = lo->alias;
    auto owner = ownership::sandbox(lo->alias, project, false);
    if (!owner || owner->empty()) return;
    // Where no link but `lo` has IPv6 on (IPv4-only networks turn it off on
    // the sandbox's end) there is no IPv6 address or route of topo's to read.
    bool ipv6 = std::any_of(links.links.begin(), links.links.end(),
                            [&](const LinkDump::Entry& l) { return l.ipv6 && l.ifindex != lo->ifindex; });
    auto families = ipv6 ? Families::Both : Families::V4;
    auto addrs = dump_addresses(sb.fd, what, families);
    auto main = dump_main_routes(sb.fd, families, strict, what, true);
    seen.addresses = addresses(addrs, links, seen.name);
    // Each address's subnet route, which the kernel made with it.
    std::set<std::pair<int, Prefix>> subnet_routes;
    for (auto& r : main)
        if (r.table == RT_TABLE_MAIN && r.protocol == RTPROT_KERNEL) subnet_routes.insert({r.oif, r.dst});
    for (size_t i = 0; i < addrs.size(); ++i)
        if (addrs[i].prefix.len < addrs[i].prefix.addr.bits())
            seen.addresses[i].subnet_route = subnet_routes.count({addrs[i].ifindex, addrs[i].prefix.network()}) > 0;
    seen.routes = routes(main, links, seen.name);
    for (auto& l : links.links) {
        if (l.kind != "veth" && l.kind != "macvlan") continue;
        Link link = base_link(l, links, seen.name);
        sb.host_ends.push_back({seen.links.size(), l.link});
        seen.links.push_back(std::move(link));
    }
}

// Runs work(i) for i in [0, n) on a few threads of its own; what work(i)
// throws is kept and rethrown here. Never on the calling thread: a sandbox
// reader stays in the last namespace it entered.
void in_parallel(size_t n, const std::function<void(size_t)>& work) {
    if (n == 0) return;
    std::vector<std::exception_ptr> errors(n);
    std::atomic<size_t> next{0};
    auto worker = [&] {
        for (size_t i; (i = next++) < n;) {
            try {
                work(i);
            } catch (...) {
                errors[i] = std::current_exception();
            }
        }
    };
    size_t count = std::min<size_t>({std::max(1u, std::thread::hardware_concurrency()), 4, n / 64 + 1});
    std::vector<std::thread> threads;
    try {
        for (size_t t = 0; t < count; ++t) threads.emplace_back(worker);
    } catch (const std::system_error&) {  // a pids limit: go on with the threads there are
        if (threads.empty()) throw KernelError("read: cannot start a thread");
    }
    for (auto& t : threads) t.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

// Whether something is at `path`: a link (a hosts file, or its temporary)
// counts even when what it points at is not there.
bool present(const std::string& path) {
    std::error_code ec;
    return std::filesystem::exists(std::filesystem::symlink_status(path, ec));
}

// A directory under the root where a file is missing, with what a write
// that was killed left in it: a temporary file without the file it was to
// become (of `names`; of any name in the shared files' directory).
std::optional<Observation::Dir> inspect(const std::string& dir, bool shared) {
    auto info = files::inspect_dir(dir);
    if (!info.exists) return std::nullopt;
    Observation::Dir d{dir, shared, info.symlink, std::move(info.marker), info.others, {}};
    if (info.symlink) return d;
    const auto temp = io::temp_path_for("");
    if (shared) {
        std::error_code ec;
        for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
            auto path = e.path().string();
            if (path.ends_with(temp) && !present(path.substr(0, path.size() - temp.size())))
                d.unfinished.push_back(path.substr(0, path.size() - temp.size()));
        }
        return d;
    }
    for (auto* f : {"/hosts", "/resolv.conf"})
        if (auto path = dir + f; !present(path) && present(io::temp_path_for(path))) d.unfinished.push_back(path);
    return d;
}

// The project's sandboxes in the scope, each read whole by a few threads; one
// that already has a socket (a run's own changes opened it) through that.
std::vector<Sandbox> read_sandboxes(const RealKernel& k, const ReadScope& scope) {
    auto prefix = scope.project + "-";
    std::vector<Sandbox> sandboxes;
    auto in_scope = [&](const std::string& ns) { return !scope.only_sandboxes || scope.only_sandboxes->count(ns); };
    for (auto& ns : netns::list())
        if (ns.starts_with(prefix) && in_scope(ns)) {
            sandboxes.emplace_back();
            sandboxes.back().seen.name = ns;
            if (auto* sock = k.cached_sock(ns)) sandboxes.back().fd = nl_socket_get_fd(sock);
        }
    // Workers close each sandbox's socket when done with it: the descriptor
    // table stays small (a table shared by threads waits for an RCU grace
    // period each time it grows: ~70 ms at 1000 sandboxes when they were kept).
    // Sandboxes are independent, and recent kernels answer link, address and
    // route dumps without the rtnl lock: a few threads share them.
    in_parallel(sandboxes.size(), [&](size_t i) { read_sandbox(sandboxes[i], scope.project); });
    return sandboxes;
}

// Every static entry of one VXLAN device, dumped.
void dump_entries(int fd, bool strict, const LinkDump::Entry& l, std::vector<Fdb>& fdb, std::vector<Neigh>& neighbours) {
    for (auto& e : dump_neighbours(fd, AF_BRIDGE, l.ifindex, strict, what_of("")))
        fdb.push_back(Fdb{l.name, e.mac, e.ip});
    for (int family : {AF_INET, AF_INET6})
        for (auto& e : dump_neighbours(fd, family, l.ifindex, strict, what_of("")))
            neighbours.push_back(Neigh{l.name, *e.ip, e.mac});
}

struct HostDumps {
    LinkDump links;
    std::vector<AddrEntry> addrs;
    // The VXLAN devices' entries (an overlay of 100 hosts: 15,000, ~5 ms).
    std::vector<Fdb> fdb;
    std::vector<Neigh> neighbours;
};

}  // namespace

// The host namespace's dumps, on a thread and a socket of their own: the
// thread touches nothing of the RealKernel's.
struct Prefetch {
    std::future<HostDumps> host;
};

void RealKernel::prepare_read() {
    if (prefetch) return;
    try {
        auto p = std::make_shared<Prefetch>();
        p->host = std::async(std::launch::async, [] {
            RouteSocket s;  // in the namespace topo started in, like this thread
            HostDumps d{dump_links(s.fd(), what_of("")), dump_addresses(s.fd(), what_of("")), {}, {}};
            std::optional<bool> strict;
            for (auto& l : d.links.links)
                if (l.vxlan) {
                    if (!strict) strict = strict_checking(s.fd());
                    dump_entries(s.fd(), *strict, l, d.fdb, d.neighbours);
                }
            return d;
        });
        prefetch = std::move(p);
    } catch (const std::system_error&) {  // no thread to be had: read() dumps them itself
    }
}

namespace {

// The entries of a device that a scope names, asked for one by one; false
// (nothing added) on a kernel that answers no gets (before Linux 5.0).
bool entries_of(int fd, const LinkDump::Entry& l, const ReadScope::Entries& wanted, Observation& seen) {
    std::vector<Fdb> fdb;
    std::vector<Neigh> neighbours;
    try {
        for (auto& mac : wanted.forwarding)
            for (bool master : {false, true})
                if (auto e = get_forwarding(fd, l.ifindex, mac, master, what_of("")))
                    fdb.push_back(Fdb{l.name, e->mac, e->ip});
        for (auto& ip : wanted.neighbours)
            if (auto e = get_neighbour(fd, l.ifindex, ip, what_of(""))) neighbours.push_back(Neigh{l.name, *e->ip, e->mac});
    } catch (const KernelError&) {
        return false;  // the dump that follows says what a real failure is
    }
    std::move(fdb.begin(), fdb.end(), std::back_inserter(seen.fdb));
    std::move(neighbours.begin(), neighbours.end(), std::back_inserter(seen.neighbours));
    return true;
}

}  // namespace

Observation observe_host(RealKernel& k, const ReadScope& scope) {
    Observation seen;
    std::optional<trace::Span> phase(std::in_place, "read host dumps");
    // What prepare_read() began serves the next whole read.
    auto pre = scope.only_host_links ? nullptr : std::exchange(k.prefetch, nullptr);
    const int host = nl_socket_get_fd(k.sock(""));
    LinkDump links;
    std::vector<AddrEntry> host_addrs;
    if (scope.only_host_links) {
        for (auto& name : *scope.only_host_links) get_link(host, name, 0, links, what_of(""));
        std::set<int> named;  // a port's bridge, a VXLAN device's underlay, a macvlan's parent: named by index
        for (auto& l : links.links)
            for (int idx : {l.master, l.vxlan || l.kind == "macvlan" ? l.link : 0})
                if (idx && !links.find(idx)) named.insert(idx);
        for (int idx : named) get_link(host, "", idx, links, what_of(""));
        // A few links' addresses are asked for by link: the host's whole dump
        // holds an IPv6 link-local address per veth (~25 ms at 1000 sandboxes).
        RouteSocket s;
        if (strict_checking(s.fd())) {
            for (auto& l : links.links) {
                auto some = dump_addresses_of(s.fd(), l.ifindex, what_of(""));
                host_addrs.insert(host_addrs.end(), some.begin(), some.end());
            }
        } else {
            host_addrs = dump_addresses(host, what_of(""));
        }
    } else if (pre) {
        auto dumps = pre->host.get();
        links = std::move(dumps.links);
        host_addrs = std::move(dumps.addrs);
        seen.fdb = std::move(dumps.fdb);
        seen.neighbours = std::move(dumps.neighbours);
    } else {
        links = dump_links(host, what_of(""));
        host_addrs = dump_addresses(host, what_of(""));
    }
    seen.host_links.reserve(links.links.size());
    for (auto& l : links.links) {
        auto& link = seen.host_links.emplace_back(base_link(l, links, ""));
        if (link.kind == LinkKind::Veth) link.isolated = l.isolated;  // absent before 4.18
        if (link.vxlan && l.link) link.vxlan->underlay = links.name(l.link);
        if (link.macvlan) link.macvlan->parent = links.name(l.link);
        if (link.vxlan) link.port_learning = l.port_learning;
    }
    seen.host_addresses = addresses(host_addrs, links, "");
    // A VXLAN device's static entries, and the routes through a macvlan link
    // of the host's (none to look for on a host without either).
    std::optional<RouteSocket> neigh;
    bool strict = false;
    std::unordered_set<std::string> macvlans;
    for (auto& l : links.links) {
        if ((!l.vxlan && l.kind != "macvlan") || (l.vxlan && pre)) continue;  // entries: dumped with the links
        if (!neigh) strict = strict_checking(neigh.emplace().fd());
        if (!l.vxlan) {
            macvlans.insert(l.name);
            continue;
        }
        auto it = scope.only_entries.find(l.name);
        if (it != scope.only_entries.end() && entries_of(neigh->fd(), l, it->second, seen)) continue;
        dump_entries(neigh->fd(), strict, l, seen.fdb, seen.neighbours);  // judge() keeps those asked for
    }
    if (!macvlans.empty())
        for (auto& r : routes(dump_main_routes(neigh->fd(), Families::V4, strict, what_of(""), false), links, ""))
            if (macvlans.count(r.dev)) seen.host_routes.push_back(std::move(r));
    phase.emplace("read sandboxes");
    auto sandboxes = read_sandboxes(k, scope);
    // What the sandboxes' links name in the host namespace, named: a veth's
    // other end, a macvlan's parent (fetched, when the host's links were
    // not all dumped; not itself a link the read returns).
    seen.sandboxes.reserve(sandboxes.size());
    for (auto& sb : sandboxes) {
        for (auto [i, index] : sb.host_ends) {
            auto& link = sb.seen.links[i];
            if (link.kind == LinkKind::Macvlan && scope.only_host_links && !links.find(index))
                get_link(host, "", index, links, what_of(""));
            (link.macvlan ? link.macvlan->parent : link.peer.emplace().name) = links.name(index);
        }
        seen.sandboxes.push_back(std::move(sb.seen));
    }
    phase.emplace("read nft");
    if (scope.nft) seen.table = nft::read(k.nft_sockets(), naming::nft_table(scope.project));
    for (auto& key : scope.sysctls) seen.sysctls.push_back(Sysctl{"", key, sysctl_read(k, "", key)});
    phase.emplace("read files");
    // Files: the ones the scope names, and every one of the project's
    // directories (a removed service's too). Paths are put together as
    // strings: std::filesystem::path parses each one again (at 1000
    // sandboxes that was ~4 ms of this phase).
    std::set<std::string> paths(scope.files.begin(), scope.files.end());
    const std::string root = netns_files_root;
    const auto shared = naming::shared_files_dir(scope.project);
    const auto prefix = scope.project + "-";
    std::vector<std::string> dirs;  // the project's directories, by name
    std::unordered_set<std::string> listed;  // what the root holds, when it was listed
    std::error_code ec;
    if (!scope.only_sandboxes) {
        for (auto& dir : std::filesystem::directory_iterator(root, ec)) {
            auto name = dir.path().filename().string();
            if (name == shared) {
                for (auto& e : std::filesystem::directory_iterator(dir.path(), ec))
                    if (auto path = e.path().string(); !path.ends_with(io::temp_path_for(""))) paths.insert(path);
                if (auto d = inspect(root + name, true)) seen.dirs.push_back(std::move(*d));
            }
            if (name.starts_with(prefix)) {
                for (auto* f : {"/hosts", "/resolv.conf"}) paths.insert(root + name + f);
                dirs.push_back(name);
            }
            listed.insert(std::move(name));
        }
        seen.listed = !ec;
    }
    // A file in a directory of the root that is not there is not there
    // either: no open for it (planning against an empty host asked for 20,000).
    if (seen.listed)
        std::erase_if(paths, [&](const std::string& path) {
            if (!path.starts_with(root)) return false;
            auto slash = path.find('/', root.size());
            return slash != std::string::npos && path.find('/', slash + 1) == std::string::npos &&
                   !listed.count(path.substr(root.size(), slash - root.size()));
        });
    // Two small files per sandbox: read by a few threads too.
    std::vector<std::string> path_list(paths.begin(), paths.end());
    std::vector<std::optional<files::Entry>> entries(path_list.size());
    in_parallel(path_list.size(), [&](size_t i) { entries[i] = files::read_entry(path_list[i]); });
    std::unordered_set<std::string> present;
    for (size_t i = 0; i < path_list.size(); ++i)
        if (auto& entry = entries[i]) {
            present.insert(path_list[i]);
            seen.files.push_back(File{std::move(path_list[i]), std::move(entry->content), std::move(entry->link), ""});
        }
    // Directories are looked into only where a file is missing: a directory
    // whose files are there is judged by them, and is not looked through
    // again (at 1000 sandboxes that was 3000 system calls).
    if (seen.listed) {
        std::set<std::string> look;
        for (auto& name : dirs)
            if (!present.count(root + name + "/hosts") || !present.count(root + name + "/resolv.conf"))
                look.insert(name);
        for (auto& path : scope.files)
            if (auto slash = path.find('/', root.size()); path.starts_with(root) && slash != std::string::npos &&
                                                          !present.count(path)) {
                auto name = path.substr(root.size(), slash - root.size());
                if (listed.count(name) && name != shared) look.insert(name);
            }
        for (auto& name : look)
            if (auto d = inspect(root + name, false)) seen.dirs.push_back(std::move(*d));
    }
    return seen;
}

}  // namespace topo
