// A VXLAN device: an overlay network's tunnel, a port of the network's
// bridge on each host (reconcile/desired.cpp). Its identity (VNI, UDP port,
// local address, underlay device) and its behaviour (no learning; the
// driver's ARP/ND proxy on) are fixed at creation and read back from the
// dump, so a plan compares them with what the kernel has, not with what
// topo once asked for.
#include <linux/if_link.h>
#include <netlink/route/link/vxlan.h>

#include <cstring>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "model/naming.hpp"

namespace topo::links {

void create_vxlan(RealKernel& k, const Link& l) {
    auto w = what(l);
    if (!l.vxlan) throw KernelError(w + ": create: a VXLAN link without its attributes");
    const auto& v = *l.vxlan;
    nl::LinkPtr x(rtnl_link_vxlan_alloc());
    if (!x) throw KernelError(w + ": create: out of memory");
    rtnl_link_set_name(x.get(), l.name.c_str());
    set_mac(x.get(), l.mac ? l.mac : naming::link_mac(l.name));
    if (l.mtu) rtnl_link_set_mtu(x.get(), *l.mtu);
    rtnl_link_vxlan_set_id(x.get(), v.vni);
    rtnl_link_vxlan_set_port(x.get(), v.dstport);
    rtnl_link_vxlan_set_learning(x.get(), v.learning ? 1 : 0);
    rtnl_link_vxlan_set_proxy(x.get(), v.proxy ? 1 : 0);
    if (v.local) {
        nl_addr* a = nl_addr_build(v.local->is_v4() ? AF_INET : AF_INET6, v.local->bytes.data(),
                                   v.local->is_v4() ? 4 : 16);
        rtnl_link_vxlan_set_local(x.get(), a);
        nl_addr_put(a);
    }
    if (!v.underlay.empty()) rtnl_link_vxlan_set_link(x.get(), uint32_t(k.ifindex("", v.underlay, w)));
    if (!l.master.empty()) rtnl_link_set_master(x.get(), k.ifindex(l.ns, l.master, w));
    // EEXIST: a link by its name (made since the plan read the host), or
    // another device with its VNI on its port (the plan checks that too,
    // refuse_taken_vnis, but one may have come since).
    if (int err = rtnl_link_add(k.sock(l.ns), x.get(), NLM_F_CREATE | NLM_F_EXCL); err == -NLE_EXIST) {
        rtnl_link* named = nullptr;
        bool taken = rtnl_link_get_kernel(k.sock(l.ns), 0, l.name.c_str(), &named) == 0;
        if (named) rtnl_link_put(named);
        if (taken) throw KernelError(fmt::format("{}: create: a link by that name is already on the host", w));
        throw KernelError(fmt::format("{}: create: the host has another VXLAN device with VNI {} on UDP port {}", w,
                                      v.vni, v.dstport));
    } else if (err < 0) {
        nl::fail(w, "create", err);
    }
    undo_on_failure(k, l, [&] {
        // The kernel ignores port flags in a creating request (link_veth.cpp).
        // IPv6 off, or (an overlay with IPv6: the neighbour entries and the
        // driver's ND proxy need it) on with no address of its own: no
        // link-local, so no DAD, router or listener message into the tunnel.
        if (!l.ipv6) without_ipv6(k, l.ns, l.name);
        else without_link_local(k, l.ns, l.name);
        if (l.port_learning && !l.master.empty())
            set_port_flag(k.sock(l.ns), l.name, IFLA_BRPORT_LEARNING, *l.port_learning, w);
        try {
            set_marker(k.sock(l.ns), l.name, l.owner, w, l.up);
        } catch (const KernelError& e) {
            // Up, the device opens its UDP port: EADDRINUSE, which libnl calls "Object exists".
            if (!l.up || !std::string_view(e.what()).ends_with("Object exists")) throw;
            throw KernelError(fmt::format("{}: up: UDP port {} cannot be opened: a program of the host, or a VXLAN "
                                          "device of another kind (external, gbp), holds it; choose another dstport",
                                          w, v.dstport));
        }
    });
}

void read_vxlan(nlattr* data, LinkDump::Entry& e) {
    nlattr* tb[IFLA_VXLAN_MAX + 1];
    if (nla_parse_nested(tb, IFLA_VXLAN_MAX, data, nullptr) < 0) return;
    auto u8 = [&](int attr, bool none) { return tb[attr] && nla_len(tb[attr]) >= 1 ? nla_get_u8(tb[attr]) != 0 : none; };
    Vxlan v;
    if (tb[IFLA_VXLAN_ID] && nla_len(tb[IFLA_VXLAN_ID]) >= 4) v.vni = nla_get_u32(tb[IFLA_VXLAN_ID]);
    if (tb[IFLA_VXLAN_PORT] && nla_len(tb[IFLA_VXLAN_PORT]) >= 2) v.dstport = ntohs(nla_get_u16(tb[IFLA_VXLAN_PORT]));
    for (auto [attr, len, family] : {std::tuple{IFLA_VXLAN_LOCAL, 4, 4}, std::tuple{IFLA_VXLAN_LOCAL6, 16, 6}})
        if (tb[attr] && nla_len(tb[attr]) == len) {
            IpAddr a;
            a.family = uint8_t(family);
            std::memcpy(a.bytes.data(), nla_data(tb[attr]), size_t(len));
            if (!a.is_unspecified()) v.local = a;
        }
    if (tb[IFLA_VXLAN_LINK] && nla_len(tb[IFLA_VXLAN_LINK]) >= 4) e.link = int(nla_get_u32(tb[IFLA_VXLAN_LINK]));
    v.learning = u8(IFLA_VXLAN_LEARNING, true);
    v.proxy = u8(IFLA_VXLAN_PROXY, false);
    e.vxlan = v;
    e.vxlan_external = u8(IFLA_VXLAN_COLLECT_METADATA, false);
    e.vxlan_family = tb[IFLA_VXLAN_LOCAL6] || tb[IFLA_VXLAN_GROUP6] ? 6 : 4;
}

}  // namespace topo::links
