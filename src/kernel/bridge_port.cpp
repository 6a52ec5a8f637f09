// Bridge port flags: IFLA_BRPORT_ISOLATED, which `enable_icc: false` sets on
// the host end of every sandbox veth (isolated ports of one bridge cannot
// reach each other; the bridge itself and non-isolated ports they can).
//
// libnl 3.7 neither parses nor builds IFLA_INFO_SLAVE_DATA, so both go
// through raw attributes on libnl's socket: a change is RTM_NEWLINK with
// IFLA_LINKINFO { IFLA_INFO_SLAVE_KIND "bridge", IFLA_INFO_SLAVE_DATA
// { IFLA_BRPORT_ISOLATED } } (what `ip link set X type bridge_slave isolated
// on` sends), and reading is one more link dump of the host namespace. The
// kernel ignores slave data in a creating request (the new link has no
// master yet when it is parsed), so a new port is isolated by a second one.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>

#include <cstring>

#include "kernel/real.hpp"

namespace topo {

namespace {

int parse_port(nl_msg* msg, void* arg) {
    auto& out = *static_cast<std::map<int, bool>*>(arg);
    nlmsghdr* h = nlmsg_hdr(msg);
    if (h->nlmsg_type != RTM_NEWLINK) return NL_OK;
    auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(h));
    nlattr* tb[IFLA_MAX + 1];
    if (nlmsg_parse(h, sizeof *ifi, tb, IFLA_MAX, nullptr) < 0 || !tb[IFLA_LINKINFO]) return NL_OK;
    nlattr* info[IFLA_INFO_MAX + 1];
    if (nla_parse_nested(info, IFLA_INFO_MAX, tb[IFLA_LINKINFO], nullptr) < 0) return NL_OK;
    if (!info[IFLA_INFO_SLAVE_KIND] || !info[IFLA_INFO_SLAVE_DATA] ||
        std::strcmp(nla_get_string(info[IFLA_INFO_SLAVE_KIND]), "bridge") != 0)
        return NL_OK;
    nlattr* port[IFLA_BRPORT_MAX + 1];
    if (nla_parse_nested(port, IFLA_BRPORT_MAX, info[IFLA_INFO_SLAVE_DATA], nullptr) < 0) return NL_OK;
    if (port[IFLA_BRPORT_ISOLATED]) out[ifi->ifi_index] = nla_get_u8(port[IFLA_BRPORT_ISOLATED]) != 0;
    return NL_OK;
}

struct MsgFree { void operator()(nl_msg* m) const { nlmsg_free(m); } };
using Msg = std::unique_ptr<nl_msg, MsgFree>;

Msg link_msg(int type, int flags, int ifindex) {
    Msg m(nlmsg_alloc_simple(type, flags));
    if (!m) throw KernelError("netlink: out of memory");
    ifinfomsg ifi{};
    ifi.ifi_family = AF_UNSPEC;
    ifi.ifi_index = ifindex;
    if (nlmsg_append(m.get(), &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0) throw KernelError("netlink: out of memory");
    return m;
}

}  // namespace

std::map<int, bool> bridge_port_isolation(nl_sock* sock, const std::string& what) {
    auto m = link_msg(RTM_GETLINK, NLM_F_DUMP, 0);
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;  // counters are not needed: a smaller dump
    nla_put_u32(m.get(), IFLA_EXT_MASK, mask);
    if (int err = nl_send_auto(sock, m.get()); err < 0) nl::fail(what, "read bridge ports", err);
    std::map<int, bool> out;
    // nl_socket_get_cb takes a reference: drop it once cloned.
    nl_cb* own = nl_socket_get_cb(sock);
    nl_cb* cb = nl_cb_clone(own);
    nl_cb_put(own);
    if (!cb) throw KernelError(what + ": read bridge ports: out of memory");
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, parse_port, &out);
    int err = nl_recvmsgs(sock, cb);
    nl_cb_put(cb);
    if (err < 0) nl::fail(what, "read bridge ports", err);
    return out;
}

void set_port_isolated(nl_sock* sock, const std::string& name, bool on, const std::string& what) {
    auto m = link_msg(RTM_NEWLINK, 0, 0);  // by name; without NLM_F_CREATE it never makes a link
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
