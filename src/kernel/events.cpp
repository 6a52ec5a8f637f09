// The watch's ears (kernel/events.hpp): one route-netlink socket that hears
// every namespace with an id, one netfilter socket for nf_tables, each
// message turned into the name of what changed.
#include "kernel/events.hpp"

#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernel/netns.hpp"
#include "kernel/nl.hpp"
#include "kernel/real.hpp"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

namespace topo {

namespace {

using nl::ip_of;
using nl::string_of;

void parse_route_netlink(nlmsghdr* h, std::optional<int> nsid, std::vector<KernelEvent>& out) {
    KernelEvent e;
    e.nsid = nsid;
    switch (h->nlmsg_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK: {
            if (!nlmsg_valid_hdr(h, sizeof(ifinfomsg))) return;
            nlattr* tb[IFLA_MAX + 1];
            if (nlmsg_parse(h, sizeof(ifinfomsg), tb, IFLA_MAX, nullptr) < 0) return;
            e.what = KernelEvent::What::Link;
            e.ifindex = static_cast<ifinfomsg*>(nlmsg_data(h))->ifi_index;
            e.name = string_of(tb[IFLA_IFNAME]);
            e.removed = h->nlmsg_type == RTM_DELLINK;
            break;
        }
        case RTM_NEWADDR:
        case RTM_DELADDR:
            if (!nlmsg_valid_hdr(h, sizeof(ifaddrmsg))) return;
            e.what = KernelEvent::What::Address;
            e.ifindex = int(static_cast<ifaddrmsg*>(nlmsg_data(h))->ifa_index);
            break;
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH: {
            // New entries only of the kinds topo makes: what the kernel learns
            // (ARP caches, a bridge's learned MACs) comes and goes all the time,
            // and would make every sandbox's traffic look like drift. A deleted
            // one is reported as it was when it went (a neighbour entry deleted
            // by hand is NUD_FAILED by then): the watch keeps those of topo's
            // VXLAN devices.
            if (!nlmsg_valid_hdr(h, sizeof(ndmsg))) return;
            auto* n = static_cast<ndmsg*>(nlmsg_data(h));
            bool permanent = n->ndm_state & NUD_PERMANENT, fixed = n->ndm_state & NUD_NOARP;
            bool topos_kind = n->ndm_family == AF_BRIDGE ? (permanent && (n->ndm_flags & NTF_SELF)) || (fixed && !permanent)
                                                         : permanent;
            if (h->nlmsg_type == RTM_NEWNEIGH && !topos_kind) return;
            e.what = KernelEvent::What::Neigh;
            e.ifindex = n->ndm_ifindex;
            nlattr* tb[NDA_MAX + 1];
            if (nlmsg_parse(h, sizeof *n, tb, NDA_MAX, nullptr) < 0) break;
            if (n->ndm_family == AF_BRIDGE && tb[NDA_LLADDR] && nla_len(tb[NDA_LLADDR]) == 6)
                std::memcpy(e.mac.emplace().bytes.data(), nla_data(tb[NDA_LLADDR]), 6);
            if (n->ndm_family != AF_BRIDGE && tb[NDA_DST])
                e.ip = ip_of(tb[NDA_DST], n->ndm_family);
            break;
        }
        case RTM_NEWROUTE:
        case RTM_DELROUTE: {
            if (!nlmsg_valid_hdr(h, sizeof(rtmsg))) return;
            nlattr* tb[RTA_MAX + 1];
            if (nlmsg_parse(h, sizeof(rtmsg), tb, RTA_MAX, nullptr) < 0) return;
            e.what = KernelEvent::What::Route;
            if (tb[RTA_OIF] && nla_len(tb[RTA_OIF]) >= 4) e.ifindex = int(nla_get_u32(tb[RTA_OIF]));
            break;
        }
        default:
            return;
    }
    out.push_back(std::move(e));
}

// Every nf_tables message names its table in attribute 1 (NFTA_TABLE_NAME,
// NFTA_CHAIN_TABLE, NFTA_RULE_TABLE, NFTA_SET_TABLE, NFTA_SET_ELEM_LIST_TABLE, ...).
void parse_nftables(nlmsghdr* h, std::vector<KernelEvent>& out) {
    if (NFNL_SUBSYS_ID(h->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return;
    if (NFNL_MSG_TYPE(h->nlmsg_type) == NFT_MSG_NEWGEN) return;  // the end of a transaction
    if (!nlmsg_valid_hdr(h, sizeof(nfgenmsg))) return;
    nlattr* tb[2];
    if (nlmsg_parse(h, sizeof(nfgenmsg), tb, 1, nullptr) < 0) return;
    KernelEvent e;
    e.what = KernelEvent::What::Nft;
    e.name = string_of(tb[1]);
    out.push_back(std::move(e));
}

// Reads what is queued on `fd`; false when it overflowed.
bool drain_socket(int fd, bool route, std::vector<KernelEvent>& out) {
    thread_local std::vector<char> buf(64 * 1024);
    for (;;) {
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
        iovec iov{buf.data(), buf.size()};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        ssize_t n = ::recvmsg(fd, &msg, MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
            if (errno == ENOBUFS) return false;
            nl::fail_errno("netlink events", "receive");
        }
        if (size_t(n) > buf.size()) {  // one message larger than the buffer: lost, so read all again
            buf.resize(size_t(n));
            return false;
        }
        std::optional<int> nsid;
        for (auto* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
            if (c->cmsg_level == SOL_NETLINK && c->cmsg_type == NETLINK_LISTEN_ALL_NSID) {
                int id;
                std::memcpy(&id, CMSG_DATA(c), sizeof id);
                nsid = id;
            }
        int len = int(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
            if (route) parse_route_netlink(h, nsid, out);
            else parse_nftables(h, out);
        }
    }
}

}  // namespace

KernelEvents::KernelEvents() {
    rt_ = nl::subscribed(NETLINK_ROUTE, {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV4_ROUTE,
                                     RTNLGRP_IPV6_ROUTE, RTNLGRP_NEIGH}, 8 << 20);
    int on = 1;
    if (::setsockopt(rt_, SOL_NETLINK, NETLINK_LISTEN_ALL_NSID, &on, sizeof on) < 0) {
        ::close(rt_);
        nl::fail_errno("netlink events", "listen to all namespaces");
    }
    try {
        nf_ = nl::subscribed(NETLINK_NETFILTER, {NFNLGRP_NFTABLES}, 8 << 20);
        query_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (query_ < 0) nl::fail_errno("netlink", "socket");
    } catch (...) {
        ::close(rt_);
        if (nf_ >= 0) ::close(nf_);
        throw;
    }
}

KernelEvents::~KernelEvents() {
    for (int fd : {rt_, nf_, query_})
        if (fd >= 0) ::close(fd);
}

std::vector<KernelEvent> KernelEvents::drain() {
    std::vector<KernelEvent> out;
    bool whole = drain_socket(rt_, true, out);
    whole = drain_socket(nf_, false, out) && whole;
    if (!whole) {
        KernelEvent overflow;
        overflow.what = KernelEvent::What::Overflow;
        out.push_back(std::move(overflow));
    }
    return out;
}

std::optional<int> KernelEvents::watch(const std::string& name) {
    int fd = netns::open_fd(name);
    if (fd < 0) return std::nullopt;
    try {
        auto id = netns_id(query_, fd, true, "namespace " + name);
        ::close(fd);
        return id;
    } catch (...) {
        ::close(fd);
        throw;
    }
}

std::map<int, std::string> KernelEvents::host_links() {
    RouteSocket host;
    std::map<int, std::string> out;
    for (auto& l : dump_links(host.fd(), "the host namespace").links) out[l.ifindex] = l.name;
    return out;
}

}  // namespace topo
