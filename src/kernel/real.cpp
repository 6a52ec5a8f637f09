// RealKernel (kernel/real.hpp): each change sent to the kernel by object kind,
// namespaces made and removed with what is in them, the host's routes,
// the processes in sandboxes, and the wait for a namespace's cleanup.
#include "kernel/real.hpp"

#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/route/link/veth.h>

#include <fmt/format.h>

#include <chrono>
#include <set>
#include <thread>

#include "kernel/files.hpp"
#include "kernel/netns.hpp"
#include "kernel/nft.hpp"
#include "model/naming.hpp"
#include "model/trace.hpp"

namespace topo {

RealKernel::RealKernel(nft::Sockets& nft) : nft_(nft) {
    // One netlink socket per sandbox stays open for the run: with a thousand
    // sandboxes the default soft limit of 1024 descriptors is not enough.
    rlimit r{};
    if (::getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &r);
    }
}
RealKernel::~RealKernel() {
    for (auto& t : deleting_) t.join();
}

nl_sock* RealKernel::sock(const std::string& ns) {
    auto it = socks_.find(ns);
    if (it != socks_.end()) return it->second.get();
    nl::Sock s;
    if (ns.empty()) {
        s = nl::connect_route();
    } else {
        int fd = netns::open_fd(ns);
        if (fd < 0) nl::fail_errno("netns " + ns, "open");
        {
            netns::Enter in(fd);
            s = nl::connect_route(false);  // a sandbox's dumps are small
        }
        ::close(fd);
    }
    return socks_.emplace(ns, std::move(s)).first->second.get();
}

nl_sock* RealKernel::cached_sock(const std::string& ns) const {
    auto it = socks_.find(ns);
    return it == socks_.end() ? nullptr : it->second.get();
}

int RealKernel::ifindex(const std::string& ns, const std::string& name, const std::string& what) {
    rtnl_link* l = nullptr;
    int err = rtnl_link_get_kernel(sock(ns), 0, name.c_str(), &l);
    if (err < 0) nl::fail(what, fmt::format("find {}", ns.empty() ? name : ns + ":" + name).c_str(), err);
    int idx = rtnl_link_get_ifindex(l);
    rtnl_link_put(l);
    return idx;
}

int RealKernel::device_index(const std::string& name, const std::string& what) {
    auto it = devices_.find(name);
    if (it == devices_.end()) it = devices_.emplace(name, ifindex("", name, what)).first;
    return it->second;
}

bool RealKernel::held(const std::string& ns) {
    // One walk over /proc for the run: a process that enters a sandbox after
    // it is only waited for a while in settle(), then its links are removed.
    if (!held_) {
        held_.emplace();
        for (auto& [ino, p] : netns::processes_by_netns()) held_->insert(ino);
    }
    auto ino = netns::inode(ns);
    return ino && held_->count(ino);
}

void RealKernel::implied(const Change& c) {
    auto* l = c.before ? std::get_if<Link>(&*c.before) : nullptr;
    if (!l || c.action != Action::Delete) return;
    if (l->ns.empty()) {
        // A host end of topo's, going with its sandbox's namespace.
        if (l->peer && !l->peer->ns.empty() && l->ifindex > 0 && l->owner.starts_with(naming::marker_prefix))
            going_[l->peer->ns].host_ends.push_back({l->ifindex, l->owner});
        return;
    }
    // A macvlan goes first; a sandbox end not folded with its host end (its
    // host end was not read) leaves a host end the plan does not name.
    if (l->macvlan || (l->peer && l->peer->ns.empty())) going_[l->ns].look_inside = true;
}

void RealKernel::take_links(const std::string& ns) {
    // A namespace that a process holds outlives its name, and its links with
    // it: delete them now. Otherwise the kernel removes them with the
    // namespace, in one batched cleanup (far faster than one deletion, and
    // one RCU grace period, each), and settle() waits for the host ends.
    bool delete_all = held(ns);
    auto going = going_.find(ns);
    // Known from the plan: no socket is opened in the namespace. A netlink
    // socket is freed an RCU grace period after it is closed, and holds its
    // namespace till then: listing the links here first made the cleanup
    // start 10-20 ms later (measured; a moved service's whole wait).
    // (A plan has each of topo's veths once, as its host end with the other
    // end: the observation folds the pair so. A namespace the plan names
    // no host end of, one without veths, is looked inside, as before.)
    if (!delete_all && going != going_.end() && !going->second.look_inside && !going->second.host_ends.empty()) {
        for (auto& d : going->second.host_ends) dying_.push_back(d);
        return;
    }
    nl_cache* links = nullptr;
    if (rtnl_link_alloc_cache(sock(ns), AF_UNSPEC, &links) < 0) return;
    for (auto* o = nl_cache_get_first(links); o; o = nl_cache_get_next(o)) {
        auto* l = (rtnl_link*)o;
        std::string type = rtnl_link_get_type(l) ? rtnl_link_get_type(l) : "";
        const char* alias = rtnl_link_get_ifalias(l);
        std::string marker = alias ? alias : "";
        if (std::string(rtnl_link_get_name(l)) == "lo") continue;
        // A macvlan changes its parent (promiscuity) until it is gone:
        // delete it now, so destroy returns with the parent as it was.
        if (delete_all || type == "macvlan") {
            int err = rtnl_link_delete(sock(ns), l);
            if (err < 0 && !nl::is_gone(err)) nl::fail("netns " + ns, fmt::format("delete link {}", rtnl_link_get_name(l)).c_str(), err);
            continue;
        }
        // Only topo's endpoints have their other end in the host: a veth
        // a user put between two sandboxes has it in the other one.
        if (type == "veth" && marker.starts_with(naming::marker_prefix))
            dying_.push_back({rtnl_link_get_link(l), marker});
    }
    nl_cache_free(links);
}

void RealKernel::apply_netns(const Change& c) {
    if (c.before) {
        auto& n = std::get<Netns>(*c.before);
        if (n.owner.empty()) throw KernelError(fmt::format("netns {}: not topo's; refusing to delete it", n.name));
        if (!netns::is_residue(n.name)) take_links(n.name);
        going_.erase(n.name);
        forget(n.name);
        netns::remove(n.name);
    }
    if (c.after) {
        auto& n = std::get<Netns>(*c.after);
        // Mark `lo` and bring it up inside the namespace before it gets its name.
        netns::create(n.name, [&] {
            auto s = nl::connect_route();
            auto lo = kernel_link(s.get(), "lo", "netns " + n.name);
            nl::LinkPtr change(rtnl_link_alloc());
            rtnl_link_set_ifalias(change.get(), n.owner.c_str());
            rtnl_link_set_flags(change.get(), IFF_UP);
            if (int err = rtnl_link_change(s.get(), lo.get(), change.get(), 0); err < 0)
                nl::fail("netns " + n.name, "mark lo", err);
        });
    }
}

void RealKernel::apply(const Change& c) {
    const Object& o = c.object();
    bool create = c.action == Action::Create || c.action == Action::Replace;
    bool remove = c.action == Action::Delete || c.action == Action::Replace;
    if (std::holds_alternative<Netns>(o)) {
        Change only = c;
        if (!remove) only.before.reset();
        if (!create) only.after.reset();
        return apply_netns(only);
    }
    if (auto* l = std::get_if<Link>(&o)) {
        devices_.clear();  // a name may now be another link's
        if (c.action == Action::Update) return link_update(*this, std::get<Link>(*c.after), std::get<Link>(*c.before));
        if (remove) link_delete(*this, std::get<Link>(*c.before));
        if (create) link_create(*this, std::get<Link>(*c.after));
        (void)l;
        return;
    }
    if (std::holds_alternative<Address>(o)) {
        if (remove) address_apply(*this, std::get<Address>(*c.before), false);
        if (create) address_apply(*this, std::get<Address>(*c.after), true);
        return;
    }
    if (std::holds_alternative<Route>(o)) {
        if (remove) route_apply(*this, std::get<Route>(*c.before), false);
        if (create) route_apply(*this, std::get<Route>(*c.after), true);
        return;
    }
    if (std::holds_alternative<Fdb>(o) || std::holds_alternative<Neigh>(o)) {
        auto entry = [&](const Object& x, bool add) {
            if (auto* f = std::get_if<Fdb>(&x)) fdb_apply(*this, *f, add);
            else neigh_apply(*this, std::get<Neigh>(x), add);
        };
        if (remove) entry(*c.before, false);
        if (create || c.action == Action::Update) entry(*c.after, true);  // a neighbour is replaced in place
        return;
    }
    if (std::holds_alternative<Sysctl>(o)) {
        if (c.after) sysctl_write(*this, std::get<Sysctl>(*c.after));
        return;  // a sysctl is never "deleted": topo leaves the value it set
    }
    if (auto* f = std::get_if<File>(&o)) {
        if (c.action == Action::Delete) return files::remove(f->path);
        // An empty file is the residue of a killed run (read.cpp): rolling back to it removes it.
        auto& after = std::get<File>(*c.after);
        if (!after.link.empty()) files::link_atomic(f->path, after.link, after.owner);
        else if (after.content.empty()) files::remove(f->path);
        else files::write_atomic(f->path, after.content, after.owner);
        return;
    }
    if (std::holds_alternative<NftTable>(o)) {
        const NftTable* want = c.action == Action::Delete ? nullptr : &std::get<NftTable>(*c.after);
        const NftTable* have = c.before && c.action != Action::Replace ? &std::get<NftTable>(*c.before) : nullptr;
        return nft::apply(nft_, want, have);
    }
    throw KernelError(fmt::format("{} {}: not implemented yet", to_string(kind_of(o)), id_of(o)));
}

std::vector<std::string> RealKernel::projects() {
    std::set<std::string> names;
    auto add = [&](const std::string& marker) {
        if (auto m = naming::Marker::parse(marker)) names.insert(m->project);
    };
    for (auto& l : dump_links(nl_socket_get_fd(sock("")), "host namespace").links) add(l.alias);
    for (auto& ns : netns::list()) {
        if (netns::is_residue(ns)) continue;
        try {
            LinkDump lo;
            get_link(nl_socket_get_fd(sock(ns)), "lo", 0, lo, "netns " + ns);
            for (auto& l : lo.links) add(l.alias);
        } catch (const KernelError&) {
        }
    }
    return {names.begin(), names.end()};
}

std::vector<Prefix> RealKernel::host_routes() {
    const int fd = nl_socket_get_fd(sock(""));
    // Whether a route's device is topo's, asked per device: the host's link
    // dump holds every sandbox's veth, the routes name a few devices.
    std::map<int, bool> topos;
    auto is_topos = [&](int idx) {
        auto [it, fresh] = topos.try_emplace(idx, false);
        if (fresh && idx > 0) {
            LinkDump one;
            get_link(fd, "", idx, one, "host namespace");
            it->second = !one.links.empty() && one.links.front().alias.starts_with(naming::marker_prefix);
        }
        return it->second;
    };
    std::vector<Prefix> out;
    for (auto& r : dump_routes(fd, "host namespace")) {
        if (r.table != RT_TABLE_MAIN || r.dst.len == 0) continue;  // default routes are not in the way
        // Routes on topo's own links are topo's networks, known from the state files.
        if (!is_topos(r.oif)) out.push_back(r.dst.network());
    }
    return out;
}

std::optional<uint32_t> RealKernel::underlay_mtu(const std::string& device, const std::vector<IpAddr>& peers) {
    const int fd = nl_socket_get_fd(sock(""));
    auto mtu_of = [&](const std::string& name, int ifindex) -> std::optional<uint32_t> {
        LinkDump one;
        get_link(fd, name, ifindex, one, "host namespace");
        if (one.links.empty()) return std::nullopt;
        return one.links.front().mtu;
    };
    if (!device.empty()) return mtu_of(device, 0);
    std::optional<uint32_t> lowest;
    std::set<int> devices;  // most peers go through one device: its MTU is asked once
    for (auto& peer : peers)
        if (auto r = route_to(fd, peer); r && r->oif && devices.insert(r->oif).second)
            if (auto m = mtu_of("", r->oif); m && (!lowest || *m < *lowest)) lowest = m;
    return lowest;
}

std::vector<VxlanInUse> RealKernel::vxlans() {
    std::vector<VxlanInUse> out;
    for (auto& l : dump_links(nl_socket_get_fd(sock("")), "host namespace").links)
        if (l.vxlan)
            out.push_back({l.name, l.alias, l.vxlan_external ? std::nullopt : std::optional(l.vxlan->vni),
                           l.vxlan->dstport, l.vxlan_family, l.mtu});
    return out;
}

std::vector<BaseChain> RealKernel::base_chains() { return nft::base_chains(nft_); }

std::vector<IpAddr> RealKernel::local_addresses() {
    std::vector<IpAddr> out;
    for (auto& a : dump_addresses(nl_socket_get_fd(sock("")), "host namespace")) out.push_back(a.prefix.addr);
    return out;
}

Observation RealKernel::observe(const ReadScope& scope) { return observe_host(*this, scope); }

namespace {

// The host end `d` names, if it is still there and still the one it was:
// an index reused by another link is not ours (its marker says).
nl::LinkPtr host_end(nl_sock* sock, const RealKernel::Dying& d) {
    rtnl_link* l = nullptr;
    if (rtnl_link_get_kernel(sock, d.ifindex, nullptr, &l) < 0) return nullptr;
    nl::LinkPtr link(l);
    const char* alias = rtnl_link_get_ifalias(l);
    return alias && d.marker == alias ? std::move(link) : nullptr;
}

// The host ends of veths deleted, on a thread of its own, so no failure is
// said here; the caller sees whether they went.
void delete_host_ends(const std::vector<RealKernel::Dying>& ends) {
    try {
        auto s = nl::connect_route(false);
        for (auto& d : ends)
            if (auto l = host_end(s.get(), d)) rtnl_link_delete(s.get(), l.get());
    } catch (const KernelError&) {
    }
}

}  // namespace

void RealKernel::settle() {
    // A namespace is cleaned up by a kernel worker after its last reference goes;
    // wait until the host ends of its veths have gone with it. A reference
    // topo did not see (a process that entered the sandbox since, an open
    // descriptor, a bind mount elsewhere) keeps it: when the cleanup makes no
    // progress for a while, delete the host ends that are left, which takes
    // their pairs with them, so settle() ends in bounded time.
    going_.clear();
    for (auto& d : deleting_) d.join();
    deleting_.clear();
    if (dying_.empty()) return;
    trace::Span t("settle");
    using clock = std::chrono::steady_clock;
    auto progress = clock::now();
    // Looked at again when the kernel says a link went (and every 10 ms in
    // any case): the worker often takes 3-4 ms, and polling at 1, 2, 4, 8 ms
    // found the host end gone up to 8 ms late.
    int told = -1;
    try {
        told = nl::subscribed(NETLINK_ROUTE, {RTNLGRP_LINK}, 1 << 20);
    } catch (const KernelError&) {
        // polled every 10 ms instead
    }
    auto delete_left = [&] {
        for (auto& d : dying_) {
            auto l = host_end(sock(""), d);
            if (!l) continue;
            int err = rtnl_link_delete(sock(""), l.get());
            if (err < 0 && !nl::is_gone(err))
                nl::fail(fmt::format("veth {}", rtnl_link_get_name(l.get())), "delete (its sandbox is held open)", err);
        }
        dying_.clear();
    };
    struct Close { int fd; ~Close() { if (fd >= 0) ::close(fd); } } closing{told};
    // A few host ends are deleted at once, on a thread, when the caller
    // waits for the thread only after its run (defer_waits(): a watch):
    // their namespace's cleanup starts only when the last socket in it is
    // freed, an RCU grace period after it was closed (the run's read had
    // one there a moment ago: 10-15 ms), while a deleted link leaves the
    // host's links in a millisecond or two. The kernel answers a deletion
    // only after an RCU barrier (~16 ms): the thread waits that out, not the
    // run. Many are left to the cleanup, which batches them: a barrier each
    // made destroying 1,000 sandboxes take 23 s.
    if (defer_waits_ && dying_.size() <= 4) {
        try {
            deleting_.emplace_back([ends = dying_] { delete_host_ends(ends); });
        } catch (const std::system_error&) {  // no thread: the cleanup does it
        }
    }
    while (!dying_.empty()) {
        size_t before = dying_.size();
        std::erase_if(dying_, [&](const Dying& d) { return !host_end(sock(""), d); });
        if (dying_.empty()) break;
        if (dying_.size() != before) progress = clock::now();
        if (clock::now() - progress > std::chrono::seconds(3)) {
            delete_left();
            break;
        }
        if (told < 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            continue;
        }
        pollfd p{told, POLLIN, 0};
        if (::poll(&p, 1, 10) > 0) {
            // What was said does not matter, only that something was: the
            // host ends are asked for again. An overflow (ENOBUFS) is as good.
            char drain[8192];
            while (::recv(told, drain, sizeof drain, MSG_DONTWAIT) > 0 || errno == ENOBUFS) {
            }
        }
    }
}

std::map<std::string, std::vector<Process>> RealKernel::processes(const std::vector<std::string>& sandboxes) {
    std::map<ino_t, std::string> by_inode;
    for (auto& s : sandboxes)
        if (auto ino = netns::inode(s)) by_inode.emplace(ino, s);
    std::map<std::string, std::vector<Process>> out;
    if (by_inode.empty()) return out;
    for (auto& [ino, p] : netns::processes_by_netns([&](ino_t i) { return by_inode.count(i) > 0; }))
        if (auto it = by_inode.find(ino); it != by_inode.end()) out[it->second].push_back(p);
    return out;
}

void RealKernel::signal(const Process& p, int sig) {
    // Through a pidfd, after checking that the pid is still a process of that
    // namespace: a pid reused since processes() is never signalled.
    int fd = int(::syscall(SYS_pidfd_open, p.pid, 0));
    if (fd < 0) {
        if (errno == ESRCH) return;  // it has ended
        nl::fail_errno(fmt::format("process {}", p.pid), "open");
    }
    struct stat st {};
    bool same = ::stat(fmt::format("/proc/{}/ns/net", p.pid).c_str(), &st) == 0 && uint64_t(st.st_ino) == p.netns;
    int rc = same ? int(::syscall(SYS_pidfd_send_signal, fd, sig, nullptr, 0)) : 0;
    int e = errno;
    ::close(fd);
    if (rc < 0 && e != ESRCH) {
        errno = e;
        nl::fail_errno(fmt::format("process {} ({})", p.pid, p.command), "signal");
    }
}

}  // namespace topo
