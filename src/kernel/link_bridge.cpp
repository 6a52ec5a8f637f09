// A bridge: a network's switch, holding its gateway addresses. Born with a
// MAC fixed by its name (or the one the manifest's network gives it) and
// its MTU set by a change after creation, so that it keeps it.
#include <netlink/route/link/bridge.h>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "model/naming.hpp"

namespace topo::links {

void create_bridge(RealKernel& k, const Link& l) {
    nl::LinkPtr b(rtnl_link_bridge_alloc());
    rtnl_link_set_name(b.get(), l.name.c_str());
    // A fixed MAC from birth (not compared afterwards: changing the MAC of a
    // running gateway would leave the sandboxes' neighbour caches stale).
    set_mac(b.get(), l.mac ? l.mac : naming::link_mac(l.name));
    // Without IPv6, it comes up only once that is off (with its marker).
    if (l.up && l.ipv6) rtnl_link_set_flags(b.get(), IFF_UP);
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
        if (!l.ipv6) without_ipv6(k, l.ns, l.name);
        set_marker(k.sock(l.ns), l.name, l.owner, what(l), l.up && !l.ipv6);
    });
}

}  // namespace topo::links
