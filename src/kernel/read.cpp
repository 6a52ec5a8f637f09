// Reading the host: a link and an address dump per namespace, and in a
// sandbox a route dump per family, each on a socket opened inside that
// namespace (route dumps cannot target another namespace by netnsid, link and
// address dumps could), parsed by kernel/dump.cpp.
//
// Host namespace: topo's links (marker, or the project's generated name prefix
// while unmarked), the foreign links the scope names, and the addresses on
// topo's links. Each of the project's sandboxes (a /run/netns entry named
// <project>-* whose `lo` carries the project's marker): its veth ends (folded
// into the host end's Link), macvlan links, addresses and static routes.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/route/link/macvlan.h>
#include <sched.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <unordered_set>

#include "io/file.hpp"
#include "kernel/files.hpp"
#include "kernel/netns.hpp"
#include "kernel/nft.hpp"
#include "kernel/real.hpp"
#include "model/naming.hpp"
#include "model/ownership.hpp"
#include "model/trace.hpp"

namespace topo {

namespace {

std::string what_of(const std::string& ns) { return ns.empty() ? std::string("host namespace") : "netns " + ns; }

std::string str(const char* s) { return s ? s : ""; }

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
    out.kind = l.kind == "veth" ? LinkKind::Veth : l.kind == "macvlan" ? LinkKind::Macvlan
             : l.kind == "vxlan" ? LinkKind::Vxlan : LinkKind::Bridge;
    return out;
}

bool is_link_local(const IpAddr& a) { return a.is_v6() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80; }

void read_addresses(const std::vector<AddrEntry>& addrs, const LinkDump& links, const std::string& ns,
                    const std::function<bool(int)>& wanted, HostState& out) {
    for (auto& a : addrs)
        if (wanted(a.ifindex) && !is_link_local(a.prefix.addr)) out.add(Address{ns, links.name(a.ifindex), a.prefix});
}

void read_routes(const std::vector<RouteEntry>& routes, const LinkDump& links, const std::string& ns, HostState& out) {
    for (auto& r : routes) {
        if (r.table != RT_TABLE_MAIN || r.protocol != RTPROT_STATIC) continue;
        Route route;
        route.ns = ns;
        route.dst = r.dst;
        route.gateway = r.gateway;
        route.dev = links.name(r.oif);
        out.add(route);
    }
}

// One sandbox, read by a worker thread into values of its own; what refers to
// the host namespace (a veth's host end, a macvlan's parent) is left as an
// ifindex for the merge, so workers share no libnl object.
struct Sandbox {
    std::string ns;
    int fd = -1;  // the kernel's socket for `ns`, if it has one
    bool residue = false;
    bool wanted = false;  // a name the project has or had: one not marked as its own is shown, as a conflict
    HostState state;  // empty: not the project's
    struct PeerEnd {
        int host_ifindex;
        std::string name, owner;
        std::optional<Mac> mac;
    };
    std::vector<PeerEnd> peers;
    std::vector<std::pair<Link, int>> macvlans;  // with the parent's host ifindex
};

// Enters the sandbox's namespace for good (setns moves only the calling
// thread: a socket opened next is bound to the sandbox); false when there is
// nothing to read.
bool enter(Sandbox& sb) {
    int fd = netns::open_fd(sb.ns);
    if (fd < 0) {
        if (errno == ENOENT) return false;  // deleted since it was listed
        nl::fail_errno("netns " + sb.ns, "open");
    }
    int rc = ::setns(fd, CLONE_NEWNET), err = errno;
    ::close(fd);
    if (rc != 0) {
        // EINVAL on an empty file: a create killed before the mount. Anything
        // else is an error: taking the sandbox for absent would plan to create it.
        if (err == EINVAL && netns::is_residue(sb.ns)) return sb.residue = true, false;
        errno = err;
        nl::fail_errno("netns " + sb.ns, "enter");
    }
    return true;
}

void read_sandbox(Sandbox& sb, const std::string& project) {
    std::optional<RouteSocket> own;
    bool strict = false;  // a cached socket is libnl's too: left as it is
    if (sb.fd < 0) {
        if (!enter(sb)) return;
        sb.fd = own.emplace().fd();
        strict = strict_checking(sb.fd);
    }
    auto what = what_of(sb.ns);
    // The marker is on `lo`, which the sandbox's link dump holds anyway.
    auto links = dump_links(sb.fd, what);
    auto* lo = links.find("lo");
    if (!lo) return;
    auto& out = sb.state;
    auto owner = ownership::sandbox(lo->alias, project, sb.wanted);
    if (!owner) return;
    if (owner->empty()) return out.add(Netns{sb.ns, ""});  // read, never changed
    const auto& marker = *owner;
    out.add(Netns{sb.ns, marker});
    // Where no link but `lo` has IPv6 on (IPv4-only networks turn it off on
    // the sandbox's end) there is no IPv6 address or route of topo's to read.
    bool ipv6 = std::any_of(links.links.begin(), links.links.end(),
                            [&](const LinkDump::Entry& l) { return l.ipv6 && l.ifindex != lo->ifindex; });
    auto families = ipv6 ? Families::Both : Families::V4;
    auto addrs = dump_addresses(sb.fd, what, families);
    auto routes = dump_static_routes(sb.fd, families, strict, what);
    for (auto& l : links.links) {
        Link link = base_link(l, links, sb.ns);
        if (link.owner.empty()) link.owner = marker;  // inside topo's sandbox: topo's
        if (link.kind == LinkKind::Veth) {
            sb.peers.push_back({l.link, link.name, l.alias, link.mac});
        } else if (link.kind == LinkKind::Macvlan) {
            char buf[32];
            link.macvlan_mode = str(rtnl_link_macvlan_mode2str(int(l.macvlan_mode.value_or(0)), buf, sizeof buf));
            sb.macvlans.push_back({link, l.link});
        }
    }
    read_addresses(addrs, links, sb.ns, [&](int idx) { return idx != lo->ifindex; }, out);
    read_routes(routes, links, sb.ns, out);
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

// A directory of /etc/netns where a file topo wants, or wrote, is missing.
// Whose it is: its marker (files::dir_marker) says; one without a marker
// that holds nothing (a run killed before it marked it) holds nothing of
// anyone's, and is taken. One that holds somebody else's files is a
// conflict when topo wants to write into it, and is left alone otherwise.
//
// What a run killed while writing a sandbox's files leaves in a directory
// of topo's: the directory alone, or a temporary file without the file it
// was to become. Shown as an empty file of the project's, so that apply
// writes it and destroy removes it, temporary file and directory included.
void check_dir(const std::string& dir, bool wanted, const std::string& project, HostState& out) {
    auto info = files::inspect_dir(dir);
    if (!info.exists) return;
    if (info.symlink) {  // never followed (kernel/files.cpp)
        if (wanted)
            out.conflicts.push_back(fmt::format(
                "directory {} is a symbolic link or not a directory, and is not topo's; topo never follows one: "
                "remove it, or choose another service name",
                dir));
        return;
    }
    if (!ownership::directory(info.marker, info.others, project)) {
        if (wanted)
            out.conflicts.push_back(fmt::format(
                "directory {} exists and is not topo's (it is not marked as project {}'s, and has files in it); "
                "topo never writes into a directory it did not create: move it away, or choose another service name",
                dir, project));
        return;
    }
    auto owner = naming::project_marker(project);
    bool residue = false;
    for (auto* f : {"/hosts", "/resolv.conf"}) {
        auto path = dir + f;
        if (!present(path) && present(io::temp_path_for(path))) {
            out.add(File{path, "", {}, owner});
            residue = true;
        }
    }
    if (!info.others && !residue) out.add(File{dir + "/hosts", "", {}, owner});
}

// The project's per-network hosts files (reconcile/names.hpp), and what a
// run killed while writing them left: a temporary file without the file it
// was to become, or the directory alone (shown as an empty file of the
// project's, as in a sandbox's directory).
void add_shared_files(const std::filesystem::path& dir, const std::string& project, std::set<std::string>& paths,
                      HostState& out) {
    std::error_code ec;
    const auto temp = io::temp_path_for("");
    const auto owner = naming::project_marker(project);
    bool any = false;
    for (auto& e : std::filesystem::directory_iterator(dir, ec)) {
        any = true;
        auto path = e.path().string();
        if (!path.ends_with(temp)) {
            paths.insert(path);
            continue;
        }
        auto base = path.substr(0, path.size() - temp.size());
        if (!present(base)) out.add(File{base, "", {}, owner});
    }
    if (!any && !ec) out.add(File{(dir / "hosts").string(), "", {}, owner});
}

// The project's sandboxes in the scope, each read whole by a few threads; one
// that already has a socket (a run's own changes opened it) through that.
std::vector<Sandbox> read_sandboxes(const RealKernel& k, const ReadScope& scope) {
    auto prefix = scope.project + "-";
    std::vector<Sandbox> sandboxes;
    auto in_scope = [&](const std::string& ns) { return !scope.only_sandboxes || scope.only_sandboxes->count(ns); };
    std::unordered_set<std::string> wanted(scope.sandboxes.begin(), scope.sandboxes.end());
    for (auto& ns : netns::list())
        if (ns.starts_with(prefix) && in_scope(ns)) {
            sandboxes.emplace_back();
            sandboxes.back().ns = ns;
            sandboxes.back().wanted = wanted.count(ns) > 0;
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

struct HostDumps {
    LinkDump links;
    std::vector<AddrEntry> addrs;
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
            return HostDumps{dump_links(s.fd(), what_of("")), dump_addresses(s.fd(), what_of(""))};
        });
        prefetch = std::move(p);
    } catch (const std::system_error&) {  // no thread to be had: read() dumps them itself
    }
}

HostState read_host(RealKernel& k, const ReadScope& scope) {
    HostState out;
    std::optional<trace::Span> phase(std::in_place, "read host dumps");
    // What prepare_read() began serves the next whole read.
    auto pre = scope.only_host_links ? nullptr : std::exchange(k.prefetch, nullptr);
    const int host = nl_socket_get_fd(k.sock(""));
    LinkDump links;
    std::vector<AddrEntry> host_addrs;
    if (scope.only_host_links) {
        for (auto& name : *scope.only_host_links) get_link(host, name, 0, links, what_of(""));
        std::set<int> masters;  // a port's bridge is named by index
        for (auto& l : links.links)
            if (l.master && !links.find(l.master)) masters.insert(l.master);
        for (int idx : masters) get_link(host, "", idx, links, what_of(""));
    } else if (pre) {
        auto dumps = pre->host.get();
        links = std::move(dumps.links);
        host_addrs = std::move(dumps.addrs);
    } else {
        links = dump_links(host, what_of(""));
        host_addrs = dump_addresses(host, what_of(""));
    }
    // A few links' addresses are asked for by link: the host's whole dump
    // holds an IPv6 link-local address per veth (~25 ms at 1000 sandboxes).
    if (scope.only_host_links) {
        RouteSocket s;
        if (strict_checking(s.fd())) {
            for (auto& l : links.links) {
                auto some = dump_addresses_of(s.fd(), l.ifindex, what_of(""));
                host_addrs.insert(host_addrs.end(), some.begin(), some.end());
            }
        } else {
            host_addrs = dump_addresses(host, what_of(""));
        }
    }
    std::unordered_set<std::string> foreign_links(scope.foreign_links.begin(), scope.foreign_links.end());
    std::map<int, Link> host_veths;
    std::set<int> ours;
    for (auto& l : links.links) {
        Link link = base_link(l, links, "");
        auto owner = ownership::host_link(l.alias, link.name, l.mac, scope.project, foreign_links.count(link.name) > 0);
        if (!owner) continue;
        link.owner = std::move(*owner);  // "": read, never changed
        if (!link.owner.empty()) ours.insert(link.ifindex);
        if (link.kind == LinkKind::Veth && !link.owner.empty()) {
            // Absent when the kernel does not report the flag (before 4.18): no isolated ports.
            link.isolated = l.isolated;
            host_veths[link.ifindex] = link;
        }
        else out.add(link);
    }
    read_addresses(host_addrs, links, "", [&](int idx) { return ours.count(idx) > 0; }, out);
    phase.emplace("read sandboxes");
    auto sandboxes = read_sandboxes(k, scope);
    for (auto& sb : sandboxes) {
        // A create killed before the mount: an empty file, collected like a namespace.
        if (sb.residue) out.add(Netns{sb.ns, naming::project_marker(scope.project) + "residue"});
        for (auto& [key, o] : sb.state.objects) out.objects.insert_or_assign(key, std::move(o));
        for (auto& p : sb.peers) {
            // An index is only unique in its own namespace: a veth that a user put
            // between two sandboxes names one in the other sandbox. Both ends of
            // topo's endpoints carry the same marker, which no other pair has.
            auto it = host_veths.find(p.host_ifindex);
            if (it == host_veths.end() || it->second.owner != p.owner) continue;
            it->second.peer_ns = sb.ns;
            it->second.peer_name = p.name;
            it->second.peer_mac = p.mac;
            it->second.peer_owner = p.owner;
        }
        for (auto& [link, parent] : sb.macvlans) {
            if (scope.only_host_links && !links.find(parent)) get_link(host, "", parent, links, what_of(""));
            link.parent = links.name(parent);
            out.add(link);
        }
    }
    for (auto& [_, v] : host_veths) out.add(v);
    phase.emplace("read nft");
    if (scope.nft)
        if (auto table = nft::read(k.nft_sockets(), naming::nft_table(scope.project))) {
            table->owner = ownership::table(table->owner, scope.project);  // "": read, never changed
            out.add(std::move(*table));
        }
    for (auto& key : scope.sysctls) out.add(Sysctl{"", key, sysctl_read(k, "", key)});
    phase.emplace("read files");
    // Files: the ones the manifest wants, and any marked as the project's
    // under /etc/netns (a removed service's, or all of them on destroy).
    std::set<std::string> paths(scope.files.begin(), scope.files.end());
    std::unordered_set<std::string> wanted_files(scope.files.begin(), scope.files.end());
    std::error_code ec;
    std::unordered_set<std::string> known(scope.sandboxes.begin(), scope.sandboxes.end());
    for (auto& [key, o] : out.objects)
        if (key.kind == Kind::Netns && !std::get<Netns>(o).owner.empty()) known.insert(key.id);
    // Paths are put together as strings: std::filesystem::path parses each
    // one again (at 1000 sandboxes that was ~4 ms of this phase).
    const std::string root = "/etc/netns/";
    std::vector<std::string> dirs;  // the project's sandboxes' directories, by name
    auto shared = naming::shared_files_dir(scope.project);
    auto prefix = scope.project + "-";
    std::unordered_set<std::string> listed;  // what /etc/netns holds, when it was listed
    if (!scope.only_sandboxes)
        for (auto& dir : std::filesystem::directory_iterator(root, ec)) {
            auto name = dir.path().filename().string();
            if (name == shared) add_shared_files(dir.path(), scope.project, paths, out);
            if (name.starts_with(prefix)) {
                for (auto* f : {"/hosts", "/resolv.conf"}) paths.insert(root + name + f);
                if (known.count(name)) dirs.push_back(name);
            }
            listed.insert(std::move(name));
        }
    // A file in a directory of /etc/netns that is not there is not there
    // either: no open for it (planning against an empty host asked for 20,000).
    if (!scope.only_sandboxes && !ec)
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
    for (size_t i = 0; i < path_list.size(); ++i) {
        auto& path = path_list[i];
        auto& entry = entries[i];
        if (!entry) continue;
        present.insert(path);
        bool wanted = wanted_files.count(path) > 0;
        // A file topo did not write is never read as topo's (so never deleted);
        // one it wants to write over is shown as it is, to be replaced.
        // One that is not topo's is shown as it is (no owner): a conflict, never written over.
        if (auto owner = ownership::file(entry->content, entry->link, scope.project, wanted))
            out.add(File{path, std::move(entry->content), std::move(entry->link), std::move(*owner)});
    }
    // Directories are looked into only where a file is missing: a directory
    // whose files are topo's is topo's, and is not looked through again (at
    // 1000 sandboxes that was 3000 system calls).
    std::set<std::string> wanted_dirs, look;
    for (auto& path : wanted_files) {
        if (!path.starts_with(root)) continue;
        auto slash = path.find('/', root.size());
        if (slash == std::string::npos) continue;
        auto name = path.substr(root.size(), slash - root.size());
        if (!present.count(path) && listed.count(name)) look.insert(name);
        wanted_dirs.insert(std::move(name));
    }
    for (auto& name : dirs)
        if (!present.count(root + name + "/hosts") || !present.count(root + name + "/resolv.conf")) look.insert(name);
    for (auto& name : look) check_dir(root + name, wanted_dirs.count(name) > 0, scope.project, out);
    return out;
}

}  // namespace topo
