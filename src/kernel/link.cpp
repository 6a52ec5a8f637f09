// What every link kind shares: the creating request, marking, changing in
// place (MTU, MAC, master, state, marker, a veth's sandbox end, a bridge
// port's flag) and deleting, through RTM_NEWLINK/SETLINK/DELLINK. Each kind's
// creation and the attributes of its own are in a file of their own
// (kernel/links.hpp); link_create hands a link to its kind's.
//
// The kernel ignores IFLA_IFALIAS in a creating request, so the marker is set
// by a second request right after (the generated name and its MAC mark the
// link in between; see real.hpp).
#include <linux/if_link.h>
#include <netlink/msg.h>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "kernel/netns.hpp"
#include "model/naming.hpp"

namespace topo {

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

namespace links {

std::string what(const Link& l) {
    return fmt::format("{} {}", to_string(kind_of(l)), l.ns.empty() ? l.name : l.ns + ":" + l.name);
}

void set_mac(rtnl_link* l, const std::optional<Mac>& m) {
    if (!m) return;
    nl_addr* a = nl_addr_build(AF_LLC, m->bytes.data(), m->bytes.size());
    rtnl_link_set_addr(l, a);
    nl_addr_put(a);
}

void add(RealKernel& k, const std::string& ns, rtnl_link* l, const std::string& w) {
    if (int err = rtnl_link_add(k.sock(ns), l, NLM_F_CREATE | NLM_F_EXCL); err < 0) nl::fail(w, "create", err);
}

void delete_quietly(RealKernel& k, const Link& l) {
    nl::LinkPtr d(rtnl_link_alloc());
    rtnl_link_set_name(d.get(), l.name.c_str());
    rtnl_link_delete(k.sock(l.ns), d.get());
}

NsFd::NsFd(const std::string& ns, const std::string& w) : fd(netns::open_fd(ns)) {
    if (fd < 0) nl::fail_errno(w, fmt::format("open netns {}", ns).c_str());
}
NsFd::~NsFd() { ::close(fd); }

void without_ipv6(RealKernel& k, const std::string& ns, const std::string& name) {
    if (::access("/proc/sys/net/ipv6", F_OK) != 0) return;  // a kernel without IPv6
    sysctl_write(k, {ns, fmt::format("net/ipv6/conf/{}/disable_ipv6", name), "1"});
}

void without_link_local(RealKernel& k, const std::string& ns, const std::string& name) {
    if (::access("/proc/sys/net/ipv6", F_OK) != 0) return;
    sysctl_write(k, {ns, fmt::format("net/ipv6/conf/{}/addr_gen_mode", name), "1"});  // IN6_ADDR_GEN_MODE_NONE
}

bool ipv6_back_on(RealKernel& k, const std::string& ns, const std::string& name, bool link_local) {
    auto key = fmt::format("net/ipv6/conf/{}/disable_ipv6", name);
    if (sysctl_read(k, ns, key) != "1") return false;
    if (!link_local) without_link_local(k, ns, name);
    sysctl_write(k, {ns, key, "0"});
    return true;
}

LinkKind kind_named(const std::string& info_kind) {
    if (info_kind == "veth") return LinkKind::Veth;
    if (info_kind == "macvlan") return LinkKind::Macvlan;
    if (info_kind == "vxlan") return LinkKind::Vxlan;
    return LinkKind::Bridge;
}

}  // namespace links

void link_create(RealKernel& k, const Link& l) {
    switch (l.kind) {
        case LinkKind::Bridge: return links::create_bridge(k, l);
        case LinkKind::Veth: return links::create_veth(k, l);
        case LinkKind::Macvlan: return links::create_macvlan(k, l);
        case LinkKind::Vxlan: return links::create_vxlan(k, l);
    }
}

void link_update(RealKernel& k, const Link& want, const Link& have) {
    using links::set_mac;
    auto w = links::what(want);
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
    if (want.peer) {
        Veth none;
        const Veth& p = *want.peer;
        const Veth& h = have.peer ? *have.peer : none;
        bool peer_mac = p.mac && p.mac != h.mac;
        bool peer_mtu = want.mtu && want.mtu != have.mtu;
        bool peer_up = p.up != h.up;
        if (peer_mac || peer_mtu || peer_up) {
            auto peer = kernel_link(k.sock(p.ns), p.name, w);
            nl::LinkPtr to(rtnl_link_alloc());
            if (peer_mac) set_mac(to.get(), p.mac);
            if (peer_mtu) rtnl_link_set_mtu(to.get(), *want.mtu);
            if (peer_up && p.up) rtnl_link_set_flags(to.get(), IFF_UP);
            if (peer_up && !p.up) rtnl_link_unset_flags(to.get(), IFF_UP);
            if (int err = rtnl_link_change(k.sock(p.ns), peer.get(), to.get(), 0); err < 0)
                nl::fail(w, "change peer", err);
        }
    }
    // After a change of master: a port moved to another bridge starts there not isolated.
    if (want.master.empty()) return;
    if (want.isolated && (want.isolated != have.isolated || want.master != have.master))
        set_port_flag(k.sock(want.ns), want.name, IFLA_BRPORT_ISOLATED, *want.isolated, w);
    if (want.port_learning && (want.port_learning != have.port_learning || want.master != have.master))
        set_port_flag(k.sock(want.ns), want.name, IFLA_BRPORT_LEARNING, *want.port_learning, w);
}

void link_delete(RealKernel& k, const Link& l) {
    auto w = links::what(l);
    if (l.owner.empty()) throw KernelError(w + ": not topo's; refusing to delete it");
    nl::LinkPtr d(rtnl_link_alloc());
    rtnl_link_set_name(d.get(), l.name.c_str());
    int err = rtnl_link_delete(k.sock(l.ns), d.get());
    if (err < 0 && !nl::is_gone(err)) nl::fail(w, "delete", err);
}

// A bridge port's flag: isolated (`enable_icc: false`: isolated ports of one
// bridge cannot reach each other; the bridge itself and non-isolated ports
// they can), or learning (off on an overlay's VXLAN port).
//
// Setting a flag is RTM_NEWLINK with IFLA_LINKINFO { IFLA_INFO_SLAVE_KIND
// "bridge", IFLA_INFO_SLAVE_DATA { IFLA_BRPORT_<FLAG> } } (what `ip link set
// X type bridge_slave isolated on` sends). The kernel ignores slave data in a
// creating request (the new link has no master yet when it is parsed), so a
// new port is isolated by a second request.
void set_port_flag(nl_sock* sock, const std::string& name, int flag, bool on, const std::string& what) {
    auto m = link_msg(RTM_NEWLINK, 0);  // by name; without NLM_F_CREATE it never makes a link
    nla_put_string(m.get(), IFLA_IFNAME, name.c_str());
    nlattr* info = nla_nest_start(m.get(), IFLA_LINKINFO);
    nla_put_string(m.get(), IFLA_INFO_SLAVE_KIND, "bridge");
    nlattr* data = nla_nest_start(m.get(), IFLA_INFO_SLAVE_DATA);
    nla_put_u8(m.get(), uint16_t(flag), on ? 1 : 0);
    nla_nest_end(m.get(), data);
    nla_nest_end(m.get(), info);
    // nl_send_sync frees the message, whatever happens.
    if (int err = nl_send_sync(sock, m.release()); err < 0)
        nl::fail(what, fmt::format("set port flag {} {}", flag == IFLA_BRPORT_ISOLATED ? "isolated" : "learning",
                                   on ? "on" : "off").c_str(), err);
}

}  // namespace topo
