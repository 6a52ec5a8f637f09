// The link kinds, one file each (kernel/link_bridge.cpp, link_veth.cpp,
// link_macvlan.cpp, link_vxlan.cpp): how a kind is created, and how its own
// attributes are read back from a link dump. kernel/link.cpp holds what
// every kind shares (marking, changing, deleting) and hands each kind to its
// file; nothing else in the kernel layer switches on the kind.
#pragma once

#include <netlink/attr.h>
#include <netlink/route/link.h>

#include <optional>
#include <string>

#include "kernel/real.hpp"

namespace topo::links {

// "bridge tb…", "veth shop-web:eth0": how errors name a link.
std::string what(const Link& l);
void set_mac(rtnl_link* l, const std::optional<Mac>& m);
// Sends the creating request from namespace `ns`. Throws KernelError.
void add(RealKernel& k, const std::string& ns, rtnl_link* l, const std::string& what);

// A change that fails leaves nothing half-made (kernel.hpp): a link whose
// configuration after its creating request fails is deleted again.
void delete_quietly(RealKernel& k, const Link& l);
template <class Configure>
void undo_on_failure(RealKernel& k, const Link& l, Configure&& configure) {
    try {
        configure();
    } catch (...) {
        delete_quietly(k, l);
        throw;
    }
}

// IPv6 off on a link, before it comes up: a bridge port carries frames and
// needs no IPv6 of its own. Without it the port gets no link-local address,
// no DAD, no MLD reports and no routes in the host's IPv6 table, which the
// kernel walks on every link change (so adding the 1000th sandbox would
// cost a walk over 2000 routes).
void without_ipv6(RealKernel& k, const std::string& ns, const std::string& name);
// IPv6 on, but no address made for the link (addr_gen_mode none), before it is up.
void without_link_local(RealKernel& k, const std::string& ns, const std::string& name);
// IPv6 switched back on where it is off (a link made on a network without
// IPv6 that has it now), with a link-local address or none; whether it was off.
bool ipv6_back_on(RealKernel& k, const std::string& ns, const std::string& name, bool link_local);

// An fd of a sandbox namespace, closed when it goes out of scope.
struct NsFd {
    int fd;
    NsFd(const std::string& ns, const std::string& what);
    ~NsFd();
    NsFd(const NsFd&) = delete;
    NsFd& operator=(const NsFd&) = delete;
};

// The kind a dump names ("veth", "vxlan", …); another kind (a NIC's, "lo")
// reads as a bridge, which only an object the manifest names is ever compared to.
LinkKind kind_named(const std::string& info_kind);

void create_bridge(RealKernel& k, const Link& l);
void create_veth(RealKernel& k, const Link& l);
void create_macvlan(RealKernel& k, const Link& l);
void create_vxlan(RealKernel& k, const Link& l);

// IFLA_INFO_DATA of a link of the kind, into the dump's entry.
void read_macvlan(nlattr* data, LinkDump::Entry& e);
void read_vxlan(nlattr* data, LinkDump::Entry& e);
// The mode's name ("bridge", "private", …) from MACVLAN_MODE_*.
std::string macvlan_mode_name(uint32_t mode);

}  // namespace topo::links
