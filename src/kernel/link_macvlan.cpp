// A macvlan link: a sandbox's endpoint on a LAN, created on its parent in
// the host and moved into the sandbox by the same request, or the host's own
// (`host_access`), left in the host; its mode is read back from the dump.
#include <linux/if_link.h>
#include <netlink/route/link/macvlan.h>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "model/naming.hpp"

namespace topo::links {

void create_macvlan(RealKernel& k, const Link& l) {
    auto w = what(l);
    nl::LinkPtr m(rtnl_link_macvlan_alloc());
    rtnl_link_set_name(m.get(), l.name.c_str());
    if (!l.macvlan) throw KernelError(w + ": create: a macvlan link without its attributes");
    rtnl_link_set_link(m.get(), k.ifindex("", l.macvlan->parent, w));
    int mode = rtnl_link_macvlan_str2mode(l.macvlan->mode.c_str());
    if (mode < 0) throw KernelError(fmt::format("{}: create: unknown macvlan mode {}", w, l.macvlan->mode));
    rtnl_link_macvlan_set_mode(m.get(), uint32_t(mode));
    if (l.mtu) rtnl_link_set_mtu(m.get(), *l.mtu);
    set_mac(m.get(), l.mac);
    // Created by the host (where the parent is), born inside the sandbox.
    std::optional<NsFd> fd;
    if (!l.ns.empty()) rtnl_link_set_ns_fd(m.get(), fd.emplace(l.ns, w).fd);
    add(k, "", m.get(), w);
    undo_on_failure(k, l, [&] {
        if (!l.ipv6) without_ipv6(k, l.ns, l.name);  // before it is up
        auto orig = kernel_link(k.sock(l.ns), l.name, w);
        nl::LinkPtr up(rtnl_link_alloc());
        rtnl_link_set_flags(up.get(), IFF_UP);
        rtnl_link_set_ifalias(up.get(), l.owner.c_str());
        if (int err = rtnl_link_change(k.sock(l.ns), orig.get(), up.get(), 0); err < 0) nl::fail(w, "set up", err);
    });
}

void read_macvlan(nlattr* data, LinkDump::Entry& e) {
    nlattr* tb[IFLA_MACVLAN_MAX + 1];
    if (nla_parse_nested(tb, IFLA_MACVLAN_MAX, data, nullptr) >= 0 && tb[IFLA_MACVLAN_MODE] &&
        nla_len(tb[IFLA_MACVLAN_MODE]) >= 4)
        e.macvlan_mode = macvlan_mode_name(nla_get_u32(tb[IFLA_MACVLAN_MODE]));
}

std::string macvlan_mode_name(uint32_t mode) {
    char buf[32];
    const char* name = rtnl_link_macvlan_mode2str(int(mode), buf, sizeof buf);
    return name ? name : "";
}

}  // namespace topo::links
