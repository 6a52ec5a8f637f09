// A VXLAN device's static entries: its own forwarding entries (`bridge fdb
// append MAC dev X dst IP self permanent`), its bridge's (`bridge fdb
// replace MAC dev X master static`) and neighbour entries (`ip neigh replace
// IP lladdr MAC dev X nud permanent`), all RTM_NEWNEIGH/RTM_DELNEIGH (their
// dumps are in kernel/dump.cpp). One message builder for them all; the
// family tells them apart (AF_BRIDGE for a forwarding entry, the address's
// for a neighbour), and a destination the device's from the bridge's.
//
// The device's entry is appended: the default entry (all-zero MAC) has one
// destination per remote host under one MAC, and an append of a new MAC
// creates it. Deleting one names its destination, which removes that one.
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>

#include <cstring>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "kernel/real.hpp"

namespace topo {

namespace {

struct Entry {
    uint8_t family;  // AF_BRIDGE: a forwarding entry
    int ifindex;
    const Mac& mac;
    const std::optional<IpAddr>& ip;  // the destination (none: the bridge's entry) or the neighbour's address
};

// The kernel's answer (a libnl error code), for the caller to judge.
int send(RealKernel& k, int type, int flags, const Entry& e, const std::string& w) {
    nl_msg* m = nlmsg_alloc_simple(type, flags | NLM_F_ACK);
    if (!m) throw KernelError(w + ": out of memory");
    ndmsg ndm{};
    ndm.ndm_family = e.family;
    ndm.ndm_ifindex = e.ifindex;
    // The bridge's entry is static (NUD_NOARP): a permanent one would be the
    // bridge's own address, delivered to the host instead of the port.
    bool bridge = e.family == AF_BRIDGE && !e.ip;
    ndm.ndm_state = bridge ? NUD_NOARP : NUD_PERMANENT;
    ndm.ndm_flags = e.family != AF_BRIDGE ? 0 : bridge ? NTF_MASTER : NTF_SELF;
    bool ok = nlmsg_append(m, &ndm, sizeof ndm, NLMSG_ALIGNTO) == 0 &&
              nla_put(m, NDA_LLADDR, 6, e.mac.bytes.data()) == 0 &&
              (!e.ip || nla_put(m, NDA_DST, e.ip->is_v4() ? 4 : 16, e.ip->bytes.data()) == 0);
    if (!ok) {
        nlmsg_free(m);
        throw KernelError(w + ": out of memory");
    }
    return nl_send_sync(k.sock(""), m);  // frees the message, whatever happens
}

void add_entry(RealKernel& k, int flags, const Entry& e, const std::string& w) {
    if (int err = send(k, RTM_NEWNEIGH, flags, e, w); err < 0) nl::fail(w, "add", err);
}

void remove_entry(RealKernel& k, const Entry& e, const std::string& w) {
    if (int err = send(k, RTM_DELNEIGH, 0, e, w); err < 0 && !nl::is_gone(err)) nl::fail(w, "delete", err);
}

}  // namespace

void fdb_apply(RealKernel& k, const Fdb& f, bool add) {
    auto w = fmt::format("fdb {} {} {}", f.dev, f.mac.str(), f.dst ? "dst " + f.dst->str() : "master");
    int idx = k.device_index(f.dev, w);
    Entry e{AF_BRIDGE, idx, f.mac, f.dst};
    // The bridge's replaces what it learned of the MAC, if it did.
    if (add) add_entry(k, NLM_F_CREATE | (f.dst ? NLM_F_APPEND : NLM_F_REPLACE), e, w);
    else remove_entry(k, e, w);
}

void neigh_apply(RealKernel& k, const Neigh& n, bool add) {
    auto w = fmt::format("neigh {} {}", n.dev, n.ip.str());
    int idx = k.device_index(n.dev, w);
    std::optional<IpAddr> ip = n.ip;
    Entry e{uint8_t(n.ip.is_v4() ? AF_INET : AF_INET6), idx, n.mac, ip};
    if (!add) return remove_entry(k, e, w);
    int err = send(k, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, e, w);
    // The device of an overlay that had no IPv6 when it was made has it off,
    // and the kernel refuses IPv6 entries there: on, without an address of
    // its own (as link_vxlan.cpp makes it), and again.
    if (err == -NLE_INVAL && n.ip.is_v6() && links::ipv6_back_on(k, "", n.dev, false))
        err = send(k, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, e, w);
    if (err < 0) nl::fail(w, "add", err);
}

}  // namespace topo
