// Link dumps, parsed from the kernel's messages, and the bridge port flag
// IFLA_BRPORT_ISOLATED (`enable_icc: false` sets it on the host end of every
// sandbox veth: isolated ports of one bridge cannot reach each other, the
// bridge itself and non-isolated ports they can).
//
// libnl 3.7's link cache neither reads IFLA_INFO_SLAVE_DATA (where the flag
// is) nor asks the kernel to leave the counters out, and it builds a hashed
// object per link. At 1000 sandboxes that was two host dumps (the cache's,
// then one for the flag) and a no-op plan's largest cost after the sandboxes.
// So a dump is one RTM_GETLINK on libnl's socket, with RTEXT_FILTER_SKIP_STATS,
// parsed here into plain values.
//
// Setting the flag is RTM_NEWLINK with IFLA_LINKINFO { IFLA_INFO_SLAVE_KIND
// "bridge", IFLA_INFO_SLAVE_DATA { IFLA_BRPORT_ISOLATED } } (what `ip link set
// X type bridge_slave isolated on` sends). The kernel ignores slave data in a
// creating request (the new link has no master yet when it is parsed), so a
// new port is isolated by a second request.
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>

#include <cstring>

#include "kernel/real.hpp"

namespace topo {

namespace {

std::string string_of(nlattr* a) {
    if (!a || nla_len(a) <= 0) return "";
    auto* s = static_cast<const char*>(nla_data(a));
    return std::string(s, strnlen(s, size_t(nla_len(a))));
}

uint32_t u32_of(nlattr* a) { return a && nla_len(a) >= 4 ? nla_get_u32(a) : 0; }

void parse_info(nlattr* linkinfo, LinkDump::Entry& e) {
    nlattr* info[IFLA_INFO_MAX + 1];
    if (nla_parse_nested(info, IFLA_INFO_MAX, linkinfo, nullptr) < 0) return;
    e.kind = string_of(info[IFLA_INFO_KIND]);
    if (e.kind == "macvlan" && info[IFLA_INFO_DATA]) {
        nlattr* data[IFLA_MACVLAN_MAX + 1];
        if (nla_parse_nested(data, IFLA_MACVLAN_MAX, info[IFLA_INFO_DATA], nullptr) >= 0 && data[IFLA_MACVLAN_MODE])
            e.macvlan_mode = u32_of(data[IFLA_MACVLAN_MODE]);
    }
    if (string_of(info[IFLA_INFO_SLAVE_KIND]) == "bridge" && info[IFLA_INFO_SLAVE_DATA]) {
        nlattr* port[IFLA_BRPORT_MAX + 1];
        if (nla_parse_nested(port, IFLA_BRPORT_MAX, info[IFLA_INFO_SLAVE_DATA], nullptr) >= 0 &&
            port[IFLA_BRPORT_ISOLATED] && nla_len(port[IFLA_BRPORT_ISOLATED]) >= 1)
            e.isolated = nla_get_u8(port[IFLA_BRPORT_ISOLATED]) != 0;
    }
}

int parse_link(nl_msg* msg, void* arg) {
    auto& out = *static_cast<LinkDump*>(arg);
    nlmsghdr* h = nlmsg_hdr(msg);
    if (h->nlmsg_type != RTM_NEWLINK || !nlmsg_valid_hdr(h, sizeof(ifinfomsg))) return NL_OK;
    auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(h));
    nlattr* tb[IFLA_MAX + 1];
    if (nlmsg_parse(h, sizeof *ifi, tb, IFLA_MAX, nullptr) < 0) return NL_OK;
    LinkDump::Entry e;
    e.ifindex = ifi->ifi_index;
    e.flags = ifi->ifi_flags;
    e.name = string_of(tb[IFLA_IFNAME]);
    e.alias = string_of(tb[IFLA_IFALIAS]);
    e.mtu = u32_of(tb[IFLA_MTU]);
    e.master = int(u32_of(tb[IFLA_MASTER]));
    e.link = int(u32_of(tb[IFLA_LINK]));
    if (tb[IFLA_ADDRESS] && nla_len(tb[IFLA_ADDRESS]) == 6) {
        Mac m;
        std::memcpy(m.bytes.data(), nla_data(tb[IFLA_ADDRESS]), 6);
        e.mac = m;
    }
    if (tb[IFLA_LINKINFO]) parse_info(tb[IFLA_LINKINFO], e);
    out.add(std::move(e));
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

// Sends an RTM_GETLINK (a dump, or one link by name or index) without
// counters and parses the answers into `out`; a libnl error code.
int request_links(nl_sock* sock, int flags, const std::string& name, int ifindex, LinkDump& out) {
    auto m = link_msg(RTM_GETLINK, flags, ifindex);
    if (!name.empty()) nla_put_string(m.get(), IFLA_IFNAME, name.c_str());
    nla_put_u32(m.get(), IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    if (int err = nl_send_auto(sock, m.get()); err < 0) return err;
    // nl_socket_get_cb takes a reference: drop it once cloned.
    nl_cb* own = nl_socket_get_cb(sock);
    nl_cb* cb = nl_cb_clone(own);
    nl_cb_put(own);
    if (!cb) return -NLE_NOMEM;
    nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, parse_link, &out);
    int err = nl_recvmsgs(sock, cb);
    nl_cb_put(cb);
    return err;
}

}  // namespace

void LinkDump::add(Entry e) {
    by_index_[e.ifindex] = links.size();
    links.push_back(std::move(e));
}

const LinkDump::Entry* LinkDump::find(int ifindex) const {
    auto it = by_index_.find(ifindex);
    return it == by_index_.end() ? nullptr : &links[it->second];
}

const LinkDump::Entry* LinkDump::find(std::string_view name) const {
    for (auto& e : links)
        if (e.name == name) return &e;
    return nullptr;
}

std::string LinkDump::name(int ifindex) const {
    auto* e = ifindex > 0 ? find(ifindex) : nullptr;
    return e ? e->name : "";
}

LinkDump dump_links(nl_sock* sock, const std::string& what) {
    LinkDump out;
    nl::whole_dump(what, "read links", [&] {
        out = {};
        return request_links(sock, NLM_F_DUMP, "", 0, out);
    });
    return out;
}

void get_link(nl_sock* sock, const std::string& name, int ifindex, LinkDump& into, const std::string& what) {
    if (int err = request_links(sock, 0, name, ifindex, into); err < 0) {
        if (nl::is_gone(err)) return;  // no such link: an error instead of the answer, and no ACK
        nl::fail(what, "read link", err);
    }
    // libnl asked for an ACK (its default), which follows the answer on its own.
    if (int e = nl_wait_for_ack(sock); e < 0) nl::fail(what, "read link", e);
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
