// A veth pair: a sandbox's endpoint on a bridge, made in one request with
// the peer created directly inside the sandbox (IFLA_NET_NS_FD on the peer),
// so no end ever shows up in the wrong namespace. Its kind has no attributes
// of its own to read back: the other end is found by its marker
// (model/observation.hpp).

#include <linux/if_link.h>
#include <netlink/route/link/veth.h>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "model/naming.hpp"

namespace topo::links {

void create_veth(RealKernel& k, const Link& l) {
    auto w = what(l);
    if (!l.peer) throw KernelError(w + ": create: no other end");
    const Veth& p = *l.peer;
    nl::LinkPtr v(rtnl_link_veth_alloc());
    if (!v) throw KernelError(w + ": create: out of memory");
    rtnl_link* peer = rtnl_link_veth_get_peer(v.get());
    rtnl_link_set_name(v.get(), l.name.c_str());
    if (l.mtu) rtnl_link_set_mtu(v.get(), *l.mtu);
    set_mac(v.get(), l.mac ? l.mac : naming::link_mac(l.name));
    if (!l.master.empty()) rtnl_link_set_master(v.get(), k.ifindex(l.ns, l.master, w));
    NsFd fd(p.ns, w);
    rtnl_link_set_name(peer, p.name.c_str());
    if (l.mtu) rtnl_link_set_mtu(peer, *l.mtu);
    set_mac(peer, p.mac);
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
        if (!p.ipv6 && has_ipv6) without_ipv6(k, p.ns, p.name);
        // The kernel ignores the isolated flag in the creating request.
        if (l.isolated.value_or(false) && !l.master.empty()) set_port_flag(k.sock(l.ns), l.name, IFLA_BRPORT_ISOLATED, true, w);
        set_marker(k.sock(l.ns), l.name, l.owner, w, l.up);
        set_marker(k.sock(p.ns), p.name, p.owner, w, true);
    });
}

}  // namespace topo::links
