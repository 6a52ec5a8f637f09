// Links: bridge, veth pair, macvlan — created, changed in place and deleted
// through RTM_NEWLINK/SETLINK/DELLINK.
//
// A veth pair is made in one request with the peer created directly inside
// the sandbox (IFLA_NET_NS_FD on the peer), and a macvlan is created on its
// parent and moved into the sandbox in the same request, so no link ever
// shows up in the wrong namespace. The kernel ignores IFLA_IFALIAS in a
// creating request, so the marker is set by a second request right after
// (the generated name marks the link in between; see real.hpp).
#include <netlink/route/link/macvlan.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <linux/if_link.h>
#include <netlink/msg.h>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "kernel/netns.hpp"
#include "kernel/real.hpp"
#include "model/naming.hpp"

namespace topo {

nl::LinkPtr kernel_link(nl_sock* sock, const std::string& name, const std::string& w);

namespace {

struct MsgFree { void operator()(nl_msg* m) const { nlmsg_free(m); } };
using Msg = std::unique_ptr<nl_msg, MsgFree>;

Msg link_msg(int type, int flags) {
    Msg m(nlmsg_alloc_simple(type, flags));
    if (!m) throw KernelError("netlink: out of memory");
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    if (nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) throw KernelError("netlink: out of memory");
    return m;
}

std::string what(const Link& l) {
    return fmt::format("{} {}", to_string(kind_of(l)), l.ns.empty() ? l.name : l.ns + ":" + l.name);
}

nl_addr* mac_addr(const Mac& m) { return nl_addr_build(AF_LLC, m.bytes.data(), m.bytes.size()); }

void set_mac(rtnl_link* l, const std::optional<Mac>& m) {
    if (!m) return;
    nl_addr* a = mac_addr(*m);
    rtnl_link_set_addr(l, a);
    nl_addr_put(a);
}

// An fd of a sandbox namespace, closed when it goes out of scope.
struct NsFd {
    int fd;
    explicit NsFd(const std::string& ns, const std::string& w) : fd(netns::open_fd(ns)) {
        if (fd < 0) nl::fail_errno(w, fmt::format("open netns {}", ns).c_str());
    }
    ~NsFd() { ::close(fd); }
};

void add(RealKernel& k, const std::string& ns, rtnl_link* l, const std::string& w) {
    if (int err = rtnl_link_add(k.sock(ns), l, NLM_F_CREATE | NLM_F_EXCL); err < 0) nl::fail(w, "create", err);
}

// A change that fails leaves nothing half-made (kernel.hpp): a link whose
// configuration after its creating request fails is deleted again.
template <class Configure>
void undo_on_failure(RealKernel& k, const Link& l, Configure&& configure) {
    try {
        configure();
    } catch (...) {
        nl::LinkPtr d(rtnl_link_alloc());
        rtnl_link_set_name(d.get(), l.name.c_str());
        rtnl_link_delete(k.sock(l.ns), d.get());
        throw;
    }
}

void create_bridge(RealKernel& k, const Link& l) {
    nl::LinkPtr b(rtnl_link_bridge_alloc());
    rtnl_link_set_name(b.get(), l.name.c_str());
    // A fixed MAC from birth (not compared afterwards: changing the MAC of a
    // running gateway would leave the sandboxes' neighbour caches stale).
    set_mac(b.get(), l.mac ? l.mac : naming::link_mac(l.name));
    if (l.up) rtnl_link_set_flags(b.get(), IFF_UP);
    add(k, l.ns, b.get(), what(l));
    // An MTU in the creating request is not "set by the user" for the bridge
    // driver, which then follows its ports': the bridge goes back to 1500 when
    // its last port leaves. Set through a change (the kernel skips one to the
    // value it has, 1500 for a new bridge), it stays.
    undo_on_failure(k, l, [&] {
        if (l.mtu && *l.mtu != 1500) {
            auto orig = kernel_link(k.sock(l.ns), l.name, what(l));
            nl::LinkPtr mtu(rtnl_link_alloc());
            rtnl_link_set_mtu(mtu.get(), *l.mtu);
            if (int err = rtnl_link_change(k.sock(l.ns), orig.get(), mtu.get(), 0); err < 0)
                nl::fail(what(l), "set mtu", err);
        }
        set_marker(k.sock(l.ns), l.name, l.owner, what(l));
    });
}

// A bridge port carries frames, it needs no IPv6 of its own: without it the
// port gets no link-local address, no DAD, no MLD reports and no routes in the
// host's IPv6 table, which the kernel walks on every link change (so adding
// the 1000th sandbox would cost a walk over 2000 routes). Before the port is up.
void without_ipv6(RealKernel& k, const std::string& ns, const std::string& name) {
    auto key = fmt::format("net/ipv6/conf/{}/disable_ipv6", name);
    if (::access("/proc/sys/net/ipv6", F_OK) != 0) return;  // a kernel without IPv6
    sysctl_write(k, {ns, key, "1"});
}

void create_veth(RealKernel& k, const Link& l) {
    auto w = what(l);
    nl::LinkPtr v(rtnl_link_veth_alloc());
    if (!v) throw KernelError(w + ": create: out of memory");
    rtnl_link* peer = rtnl_link_veth_get_peer(v.get());
    rtnl_link_set_name(v.get(), l.name.c_str());
    if (l.mtu) rtnl_link_set_mtu(v.get(), *l.mtu);
    set_mac(v.get(), l.mac ? l.mac : naming::link_mac(l.name));
    if (!l.master.empty()) rtnl_link_set_master(v.get(), k.ifindex(l.ns, l.master, w));
    NsFd fd(l.peer_ns, w);
    rtnl_link_set_name(peer, l.peer_name.c_str());
    if (l.mtu) rtnl_link_set_mtu(peer, *l.mtu);
    set_mac(peer, l.peer_mac);
    // libnl 3.7 refuses a veth peer with flags set (NLE_FAILURE before anything is
    // sent), so the peer is brought up by the request that marks it.
    rtnl_link_set_ns_fd(peer, fd.fd);
    rtnl_link_put(peer);
    add(k, l.ns, v.get(), w);
    undo_on_failure(k, l, [&] {
        // The port is set up before it comes up, so no frame passes it
        // unconfigured. Below an MTU of 1280 the kernel has no IPv6 on it at all.
        bool has_ipv6 = !l.mtu || *l.mtu >= 1280;
        if (!l.master.empty() && has_ipv6) without_ipv6(k, l.ns, l.name);
        if (!l.peer_ipv6 && has_ipv6) without_ipv6(k, l.peer_ns, l.peer_name);
        // The kernel ignores the isolated flag in the creating request.
        if (l.isolated.value_or(false) && !l.master.empty()) set_port_isolated(k.sock(l.ns), l.name, true, w);
        set_marker(k.sock(l.ns), l.name, l.owner, w, l.up);
        set_marker(k.sock(l.peer_ns), l.peer_name, l.peer_owner, w, true);
    });
}

void create_macvlan(RealKernel& k, const Link& l) {
    auto w = what(l);
    nl::LinkPtr m(rtnl_link_macvlan_alloc());
    rtnl_link_set_name(m.get(), l.name.c_str());
    rtnl_link_set_link(m.get(), k.ifindex("", l.parent, w));
    int mode = rtnl_link_macvlan_str2mode(l.macvlan_mode.c_str());
    if (mode < 0) throw KernelError(fmt::format("{}: create: unknown macvlan mode {}", w, l.macvlan_mode));
    rtnl_link_macvlan_set_mode(m.get(), uint32_t(mode));
    if (l.mtu) rtnl_link_set_mtu(m.get(), *l.mtu);
    set_mac(m.get(), l.mac);
    NsFd fd(l.ns, w);
    rtnl_link_set_ns_fd(m.get(), fd.fd);
    // Created by the host (where the parent is), born inside the sandbox.
    add(k, "", m.get(), w);
    undo_on_failure(k, l, [&] {
        auto orig = kernel_link(k.sock(l.ns), l.name, w);
        nl::LinkPtr up(rtnl_link_alloc());
        rtnl_link_set_flags(up.get(), IFF_UP);
        rtnl_link_set_ifalias(up.get(), l.owner.c_str());
        if (int err = rtnl_link_change(k.sock(l.ns), orig.get(), up.get(), 0); err < 0) nl::fail(w, "set up", err);
    });
}

}  // namespace

nl::LinkPtr kernel_link(nl_sock* sock, const std::string& name, const std::string& w) {
    rtnl_link* l = nullptr;
    if (int err = rtnl_link_get_kernel(sock, 0, name.c_str(), &l); err < 0) nl::fail(w, fmt::format("find {}", name).c_str(), err);
    return nl::LinkPtr(l);
}

void set_marker(nl_sock* sock, const std::string& name, const std::string& marker, const std::string& w, bool up) {
    if (marker.empty() && !up) return;
    auto orig = kernel_link(sock, name, w);
    nl::LinkPtr change(rtnl_link_alloc());
    if (!marker.empty()) rtnl_link_set_ifalias(change.get(), marker.c_str());
    if (up) rtnl_link_set_flags(change.get(), IFF_UP);
    if (int err = rtnl_link_change(sock, orig.get(), change.get(), 0); err < 0) nl::fail(w, "mark", err);
}

void link_create(RealKernel& k, const Link& l) {
    switch (l.kind) {
        case LinkKind::Bridge: return create_bridge(k, l);
        case LinkKind::Veth: return create_veth(k, l);
        case LinkKind::Macvlan: return create_macvlan(k, l);
        case LinkKind::Vxlan: throw KernelError(what(l) + ": create: VXLAN is not implemented yet");
    }
}

void link_update(RealKernel& k, const Link& want, const Link& have) {
    auto w = what(want);
    if (have.owner.empty()) throw KernelError(w + ": not topo's; refusing to change it");
    auto orig = kernel_link(k.sock(want.ns), want.name, w);
    nl::LinkPtr change(rtnl_link_alloc());
    if (want.mtu && want.mtu != have.mtu) rtnl_link_set_mtu(change.get(), *want.mtu);
    if (want.mac && want.mac != have.mac) set_mac(change.get(), want.mac);
    if (want.master != have.master)
        rtnl_link_set_master(change.get(), want.master.empty() ? 0 : k.ifindex(want.ns, want.master, w));
    if (want.up != have.up) {
        if (want.up) rtnl_link_set_flags(change.get(), IFF_UP);
        else rtnl_link_unset_flags(change.get(), IFF_UP);
    }
    if (want.owner != have.owner) rtnl_link_set_ifalias(change.get(), want.owner.c_str());
    // Only the isolated flag or the peer differs: no request for the host end
    // (libnl's carries no slave data).
    bool host_end = (want.mtu && want.mtu != have.mtu) || (want.mac && want.mac != have.mac) ||
                    want.master != have.master || want.up != have.up || want.owner != have.owner;
    if (host_end)
        if (int err = rtnl_link_change(k.sock(want.ns), orig.get(), change.get(), 0); err < 0)
            nl::fail(w, "change", err);
    // A veth's sandbox end: its MAC follows its address (a subnet change), set
    // in place on the running interface (veth allows a live MAC change).
    // Its MTU is the pair's: both ends change together.
    bool peer_mac = want.peer_mac && want.peer_mac != have.peer_mac;
    bool peer_mtu = want.kind == LinkKind::Veth && want.mtu && want.mtu != have.mtu;
    if (peer_mac || peer_mtu) {
        auto peer = kernel_link(k.sock(want.peer_ns), want.peer_name, w);
        nl::LinkPtr to(rtnl_link_alloc());
        if (peer_mac) set_mac(to.get(), want.peer_mac);
        if (peer_mtu) rtnl_link_set_mtu(to.get(), *want.mtu);
        if (int err = rtnl_link_change(k.sock(want.peer_ns), peer.get(), to.get(), 0); err < 0)
            nl::fail(w, "change peer", err);
    }
    // After a change of master: a port moved to another bridge starts there not isolated.
    if (want.isolated && (want.isolated != have.isolated || want.master != have.master) && !want.master.empty())
        set_port_isolated(k.sock(want.ns), want.name, *want.isolated, w);
}

void link_delete(RealKernel& k, const Link& l) {
    auto w = what(l);
    if (l.owner.empty()) throw KernelError(w + ": not topo's; refusing to delete it");
    nl::LinkPtr d(rtnl_link_alloc());
    rtnl_link_set_name(d.get(), l.name.c_str());
    int err = rtnl_link_delete(k.sock(l.ns), d.get());
    if (err < 0 && !nl::is_gone(err)) nl::fail(w, "delete", err);
}

// A bridge port's isolated flag (`enable_icc: false`: isolated ports of one
// bridge cannot reach each other; the bridge itself and non-isolated ports
// they can).
//
// Setting the flag is RTM_NEWLINK with IFLA_LINKINFO { IFLA_INFO_SLAVE_KIND
// "bridge", IFLA_INFO_SLAVE_DATA { IFLA_BRPORT_ISOLATED } } (what `ip link set
// X type bridge_slave isolated on` sends). The kernel ignores slave data in a
// creating request (the new link has no master yet when it is parsed), so a
// new port is isolated by a second request.
void set_port_isolated(nl_sock* sock, const std::string& name, bool on, const std::string& what) {
    auto m = link_msg(RTM_NEWLINK, 0);  // by name; without NLM_F_CREATE it never makes a link
    nla_put_string(m.get(), IFLA_IFNAME, name.c_str());
    nlattr* info = nla_nest_start(m.get(), IFLA_LINKINFO);
    nla_put_string(m.get(), IFLA_INFO_SLAVE_KIND, "bridge");
    nlattr* data = nla_nest_start(m.get(), IFLA_INFO_SLAVE_DATA);
    nla_put_u8(m.get(), IFLA_BRPORT_ISOLATED, on ? 1 : 0);
    nla_nest_end(m.get(), data);
    nla_nest_end(m.get(), info);
    // nl_send_sync frees the message, whatever happens.
    if (int err = nl_send_sync(sock, m.release()); err < 0)
        nl::fail(what, on ? "isolate port" : "unisolate port", err);
}

}  // namespace topo
