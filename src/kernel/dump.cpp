// Reading links, addresses and routes: route-netlink dumps sent on a socket's
// descriptor and parsed from the kernel's messages into plain values.
//
// Why not libnl's caches: at 1000 sandboxes a no-op plan sends ~4000 dumps.
// libnl builds a hashed, reference-counted object per address and route, and
// its socket costs six system calls to open (socket, two buffer sizes, bind,
// getsockname, getpid) where a plain one needs one; its link cache also
// neither reads IFLA_INFO_SLAVE_DATA (the bridge port flag below) nor asks
// the kernel to leave the counters out. A sandbox read went from 55 to ~40 ms.
//
// Every dump is parsed where it is received; a message batch that did not fit
// the buffer (a NIC with many SR-IOV VFs can send one message over 64 KiB)
// makes the dump run again with a buffer of that size, and a dump the kernel
// marks interrupted (objects changed while it ran) runs again too (nl.hpp).
//
// The bridge port flag IFLA_BRPORT_ISOLATED (`enable_icc: false` sets it on the
// host end of every sandbox veth) comes in the link dump's
// IFLA_INFO_SLAVE_DATA: no second dump for it.
#include <linux/if_link.h>
#include <linux/ipv6.h>
#include <linux/net_namespace.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <functional>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "kernel/real.hpp"

namespace topo {

namespace {

using nl::ip_of;
using nl::string_of;

uint32_t u32_of(nlattr* a) { return a && nla_len(a) >= 4 ? nla_get_u32(a) : 0; }

void parse_info(nlattr* linkinfo, LinkDump::Entry& e) {
    nlattr* info[IFLA_INFO_MAX + 1];
    if (nla_parse_nested(info, IFLA_INFO_MAX, linkinfo, nullptr) < 0) return;
    e.kind = string_of(info[IFLA_INFO_KIND]);
    if (info[IFLA_INFO_DATA]) {
        if (e.kind == "macvlan") links::read_macvlan(info[IFLA_INFO_DATA], e);
        if (e.kind == "vxlan") links::read_vxlan(info[IFLA_INFO_DATA], e);
    }
    if (string_of(info[IFLA_INFO_SLAVE_KIND]) == "bridge" && info[IFLA_INFO_SLAVE_DATA]) {
        nlattr* port[IFLA_BRPORT_MAX + 1];
        if (nla_parse_nested(port, IFLA_BRPORT_MAX, info[IFLA_INFO_SLAVE_DATA], nullptr) >= 0 &&
            port[IFLA_BRPORT_ISOLATED] && nla_len(port[IFLA_BRPORT_ISOLATED]) >= 1)
            e.isolated = nla_get_u8(port[IFLA_BRPORT_ISOLATED]) != 0;
        if (port[IFLA_BRPORT_LEARNING] && nla_len(port[IFLA_BRPORT_LEARNING]) >= 1)
            e.port_learning = nla_get_u8(port[IFLA_BRPORT_LEARNING]) != 0;
    }
}

// IFLA_AF_SPEC's IPv6 part: its configuration, an array of DEVCONF_* values.
bool ipv6_on(nlattr* af_spec) {
    nlattr* families[AF_MAX + 1];
    if (!af_spec || nla_parse_nested(families, AF_MAX, af_spec, nullptr) < 0 || !families[AF_INET6]) return false;
    nlattr* inet6[IFLA_INET6_MAX + 1];
    if (nla_parse_nested(inet6, IFLA_INET6_MAX, families[AF_INET6], nullptr) < 0 || !inet6[IFLA_INET6_CONF])
        return false;
    auto* conf = inet6[IFLA_INET6_CONF];
    if (size_t(nla_len(conf)) < (DEVCONF_DISABLE_IPV6 + 1) * sizeof(int32_t)) return true;  // cannot tell: on
    int32_t disabled;
    std::memcpy(&disabled, static_cast<char*>(nla_data(conf)) + DEVCONF_DISABLE_IPV6 * sizeof(int32_t), sizeof disabled);
    return disabled == 0;
}

void parse_link(nlmsghdr* h, LinkDump& out) {
    if (h->nlmsg_type != RTM_NEWLINK || !nlmsg_valid_hdr(h, sizeof(ifinfomsg))) return;
    auto* ifi = static_cast<ifinfomsg*>(nlmsg_data(h));
    nlattr* tb[IFLA_MAX + 1];
    if (nlmsg_parse(h, sizeof *ifi, tb, IFLA_MAX, nullptr) < 0) return;
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
    e.ipv6 = ipv6_on(tb[IFLA_AF_SPEC]);
    out.add(std::move(e));
}

void parse_address(nlmsghdr* h, std::vector<AddrEntry>& out) {
    if (h->nlmsg_type != RTM_NEWADDR || !nlmsg_valid_hdr(h, sizeof(ifaddrmsg))) return;
    auto* ifa = static_cast<ifaddrmsg*>(nlmsg_data(h));
    nlattr* tb[IFA_MAX + 1];
    if (nlmsg_parse(h, sizeof *ifa, tb, IFA_MAX, nullptr) < 0) return;
    // IPv4 sends the local address in IFA_LOCAL (IFA_ADDRESS is the peer's on
    // a point-to-point link); IPv6 sends IFA_ADDRESS only.
    auto ip = ip_of(tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS], ifa->ifa_family);
    if (ip) out.push_back({int(ifa->ifa_index), {*ip, ifa->ifa_prefixlen}});
}

void parse_route(nlmsghdr* h, std::vector<RouteEntry>& out) {
    if (h->nlmsg_type != RTM_NEWROUTE || !nlmsg_valid_hdr(h, sizeof(rtmsg))) return;
    auto* rtm = static_cast<rtmsg*>(nlmsg_data(h));
    nlattr* tb[RTA_MAX + 1];
    if (nlmsg_parse(h, sizeof *rtm, tb, RTA_MAX, nullptr) < 0) return;
    RouteEntry r;
    r.table = tb[RTA_TABLE] ? u32_of(tb[RTA_TABLE]) : rtm->rtm_table;
    r.protocol = rtm->rtm_protocol;
    IpAddr dst;  // a default route comes without RTA_DST
    dst.family = rtm->rtm_family == AF_INET ? 4 : 6;
    r.dst = {ip_of(tb[RTA_DST], rtm->rtm_family).value_or(dst), rtm->rtm_dst_len};
    r.gateway = ip_of(tb[RTA_GATEWAY], rtm->rtm_family);
    r.oif = int(u32_of(tb[RTA_OIF]));
    // A multipath route: its first hop, as `ip route` lists it first.
    if (tb[RTA_MULTIPATH] && size_t(nla_len(tb[RTA_MULTIPATH])) >= sizeof(rtnexthop)) {
        auto* nh = static_cast<rtnexthop*>(nla_data(tb[RTA_MULTIPATH]));
        r.oif = nh->rtnh_ifindex;
        int len = int(nh->rtnh_len) - int(RTNH_LENGTH(0));
        if (len > 0 && nh->rtnh_len <= size_t(nla_len(tb[RTA_MULTIPATH]))) {
            nlattr* hop[RTA_MAX + 1];
            if (nla_parse(hop, RTA_MAX, reinterpret_cast<nlattr*>(RTNH_DATA(nh)), len, nullptr) >= 0)
                r.gateway = ip_of(hop[RTA_GATEWAY], rtm->rtm_family);
        }
    }
    out.push_back(std::move(r));
}

std::atomic<uint32_t> next_seq{1};

// Sends `req` and hands every answer to `each` until the kernel's last one (a
// dump's NLMSG_DONE, or the one answer to a request for one object); 0 or a
// libnl error code. A batch that did not fit `buf` grows it and counts as an
// interrupted dump: asked for again, it fits.
int exchange(int fd, nlmsghdr* req, bool is_dump, std::vector<char>& buf,
             const std::function<void(nlmsghdr*)>& each) {
    req->nlmsg_seq = next_seq++;
    if (::send(fd, req, req->nlmsg_len, 0) < 0) return -nl_syserr2nlerr(errno);
    bool interrupted = false;
    for (;;) {
        ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -nl_syserr2nlerr(errno);
        }
        if (size_t(n) > buf.size()) {  // cut: read on to the end, then ask again
            buf.resize(size_t(n));
            interrupted = true;
            if (!is_dump) return -NLE_DUMP_INTR;
            continue;
        }
        int len = int(n);
        bool ours = false;
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); nlmsg_ok(h, len); h = nlmsg_next(h, &len)) {
            if (h->nlmsg_seq != req->nlmsg_seq) continue;  // an earlier request's late answer
            ours = true;
            if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                int err = 0;
                if (nlmsg_valid_hdr(h, sizeof(int))) std::memcpy(&err, nlmsg_data(h), sizeof err);
                if (err < 0) return -nl_syserr2nlerr(-err);
                return interrupted ? -NLE_DUMP_INTR : 0;
            }
            if (!interrupted) each(h);
        }
        if (ours && !is_dump) return interrupted ? -NLE_DUMP_INTR : 0;
    }
}

// A request: header, family header, and room for an attribute or two.
struct Request {
    alignas(NLMSG_ALIGNTO) char bytes[256]{};
    nlmsghdr* hdr() { return reinterpret_cast<nlmsghdr*>(bytes); }

    template <class FamilyHeader>
    Request(int type, int flags, const FamilyHeader& fam) {
        hdr()->nlmsg_type = uint16_t(type);
        hdr()->nlmsg_flags = uint16_t(NLM_F_REQUEST | flags);
        hdr()->nlmsg_len = NLMSG_LENGTH(sizeof fam);
        std::memcpy(NLMSG_DATA(hdr()), &fam, sizeof fam);
    }
    void put(int type, const void* data, size_t len) {
        if (NLMSG_ALIGN(hdr()->nlmsg_len) + RTA_SPACE(len) > sizeof bytes)  // a name far over IFNAMSIZ
            throw KernelError(fmt::format("netlink: a request attribute of {} bytes does not fit", len));
        auto* a = reinterpret_cast<rtattr*>(bytes + NLMSG_ALIGN(hdr()->nlmsg_len));
        a->rta_type = uint16_t(type);
        a->rta_len = uint16_t(RTA_LENGTH(len));
        std::memcpy(RTA_DATA(a), data, len);
        hdr()->nlmsg_len = NLMSG_ALIGN(hdr()->nlmsg_len) + RTA_ALIGN(a->rta_len);
    }
};

// Each thread's receive buffer, grown when a batch needs more.
std::vector<char>& buffer() {
    thread_local std::vector<char> buf(32 * 1024);
    return buf;
}

// Runs a request until the answer is whole (nl::whole_dump). A request for
// one object that is not there answers nothing: `each` is not called.
void run(int fd, Request& req, bool is_dump, const std::string& what, const char* step,
         const std::function<void()>& reset, const std::function<void(nlmsghdr*)>& each) {
    nl::whole_dump(what, step, [&] {
        reset();
        int err = exchange(fd, req.hdr(), is_dump, buffer(), each);
        return !is_dump && nl::is_gone(err) ? 0 : err;
    });
}

LinkDump links_request(int fd, Request& req, bool is_dump, const std::string& what) {
    uint32_t mask = RTEXT_FILTER_SKIP_STATS;
    req.put(IFLA_EXT_MASK, &mask, sizeof mask);
    LinkDump out;
    run(fd, req, is_dump, what, "read links", [&] { out = {}; }, [&](nlmsghdr* h) { parse_link(h, out); });
    return out;
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

RouteSocket::RouteSocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE)) {
    if (fd_ < 0) nl::fail_errno("netlink", "socket");
}
RouteSocket::~RouteSocket() {
    if (fd_ >= 0) ::close(fd_);
}

LinkDump dump_links(int fd, const std::string& what) {
    Request req(RTM_GETLINK, NLM_F_DUMP, ifinfomsg{});
    return links_request(fd, req, true, what);
}

void get_link(int fd, const std::string& name, int ifindex, LinkDump& into, const std::string& what) {
    ifinfomsg ifi{};
    ifi.ifi_index = ifindex;
    Request req(RTM_GETLINK, 0, ifi);
    if (!name.empty()) req.put(IFLA_IFNAME, name.c_str(), name.size() + 1);
    for (auto& l : links_request(fd, req, false, what).links) into.add(std::move(l));  // none: not there
}

// Addresses and routes are dumped once per family: the kernel answers an
// AF_UNSPEC dump of either under the rtnl lock that every namespace shares
// (rtnl_dump_all; an AF_UNSPEC route dump also walks the multicast routing
// tables), and the reader threads queued on it, while it answers IPv4 and
// IPv6 dumps without the lock (sandbox reads at 1000: 48 → 41 ms for routes).
template <class Entry, class FamilyHeader>
std::vector<Entry> dump_by_family(int fd, int type, Families families, const std::string& what, const char* step,
                                  void (*parse)(nlmsghdr*, std::vector<Entry>&), const FamilyHeader& base = {}) {
    std::vector<Entry> out;
    for (uint8_t family : {AF_INET, AF_INET6}) {
        if (family == AF_INET6 && families == Families::V4) break;
        FamilyHeader fam = base;
        std::memcpy(&fam, &family, 1);  // every family header starts with the family
        Request req(type, NLM_F_DUMP, fam);
        size_t keep = out.size();
        run(fd, req, true, what, step, [&] { out.resize(keep); }, [&](nlmsghdr* h) { parse(h, out); });
    }
    return out;
}

std::optional<RouteEntry> route_to(int fd, const IpAddr& to) {
    rtmsg rtm{};
    rtm.rtm_family = to.is_v4() ? AF_INET : AF_INET6;
    rtm.rtm_dst_len = uint8_t(to.bits());
    Request req(RTM_GETROUTE, 0, rtm);
    req.put(RTA_DST, to.bytes.data(), to.is_v4() ? 4 : 16);
    std::vector<RouteEntry> out;
    // A get for an address the kernel has no route to is answered with an
    // error (ENETUNREACH and EHOSTUNREACH, which libnl calls NLE_FAILURE;
    // EAFNOSUPPORT or EINVAL for a family it routes nothing of): that is
    // "no route". Anything else is a failed read.
    int err = exchange(fd, req.hdr(), false, buffer(), [&](nlmsghdr* h) { parse_route(h, out); });
    if (err == -NLE_FAILURE || err == -NLE_AF_NOSUPPORT || err == -NLE_INVAL) return std::nullopt;
    if (err < 0) nl::fail("host namespace: " + to.str(), "find the route", err);
    if (out.empty()) return std::nullopt;
    return out.front();
}

std::vector<AddrEntry> dump_addresses(int fd, const std::string& what, Families families) {
    return dump_by_family<AddrEntry, ifaddrmsg>(fd, RTM_GETADDR, families, what, "read addresses", parse_address);
}

bool strict_checking(int fd) {
    int on = 1;
    return ::setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof on) == 0;
}

std::vector<AddrEntry> dump_addresses_of(int fd, int ifindex, const std::string& what) {
    ifaddrmsg only{};
    only.ifa_index = uint32_t(ifindex);
    return dump_by_family<AddrEntry, ifaddrmsg>(fd, RTM_GETADDR, Families::Both, what, "read addresses",
                                                parse_address, only);
}

std::vector<RouteEntry> dump_routes(int fd, const std::string& what) {
    return dump_by_family<RouteEntry, rtmsg>(fd, RTM_GETROUTE, Families::Both, what, "read routes", parse_route);
}

// With strict checking the kernel walks the main table alone (not the local
// one, with an entry per address): the static routes, and with `kernel_too`
// the kernel's subnet routes (a sandbox's few; never a host's, which may
// carry a whole routing table).
std::vector<RouteEntry> dump_main_routes(int fd, Families families, bool strict, const std::string& what, bool kernel_too) {
    rtmsg only{};
    if (strict) {
        only.rtm_table = RT_TABLE_MAIN;
        if (!kernel_too) only.rtm_protocol = RTPROT_STATIC;
    }
    return dump_by_family<RouteEntry, rtmsg>(fd, RTM_GETROUTE, families, what, "read routes", parse_route, only);
}

namespace {

// A static forwarding entry of a VXLAN device is NTF_SELF and permanent,
// with a destination; its bridge's, static (NUD_NOARP), without one and
// naming the bridge. What the bridge learned, and its own addresses, are not
// topo's.
std::optional<NeighEntry> parse_neighbour(nlmsghdr* h, int family, int ifindex) {
    if (h->nlmsg_type != RTM_NEWNEIGH || !nlmsg_valid_hdr(h, sizeof(ndmsg))) return std::nullopt;
    auto* n = static_cast<ndmsg*>(nlmsg_data(h));
    if (n->ndm_ifindex != ifindex) return std::nullopt;
    nlattr* tb[NDA_MAX + 1];
    if (nlmsg_parse(h, sizeof *n, tb, NDA_MAX, nullptr) < 0 || !tb[NDA_LLADDR] || nla_len(tb[NDA_LLADDR]) != 6)
        return std::nullopt;
    auto len = tb[NDA_DST] ? nla_len(tb[NDA_DST]) : 0;
    auto ip = ip_of(tb[NDA_DST], len == 4 ? AF_INET : AF_INET6);
    // The bridge's entries name it in NDA_MASTER (a dump sets no NTF_MASTER).
    bool master = family == AF_BRIDGE && tb[NDA_MASTER];
    if (master ? !(n->ndm_state & NUD_NOARP) || (n->ndm_state & NUD_PERMANENT) || ip
               : !(n->ndm_state & NUD_PERMANENT) || !ip || (family == AF_BRIDGE && !(n->ndm_flags & NTF_SELF)))
        return std::nullopt;
    NeighEntry e{{}, ip};
    std::memcpy(e.mac.bytes.data(), nla_data(tb[NDA_LLADDR]), 6);
    return e;
}

}  // namespace

std::vector<NeighEntry> dump_neighbours(int fd, int family, int ifindex, bool strict, const std::string& what) {
    ndmsg ndm{};
    ndm.ndm_family = uint8_t(family);
    if (strict && family == AF_BRIDGE) ndm.ndm_ifindex = ifindex;  // the kernel filters by port
    Request req(RTM_GETNEIGH, NLM_F_DUMP, ndm);
    uint32_t dev = uint32_t(ifindex);
    if (strict && family != AF_BRIDGE) req.put(NDA_IFINDEX, &dev, sizeof dev);
    std::vector<NeighEntry> out;
    run(fd, req, true, what, "read neighbours", [&] { out.clear(); }, [&](nlmsghdr* h) {
        if (auto e = parse_neighbour(h, family, ifindex)) out.push_back(*e);
    });
    return out;
}

// A get answers with one entry or none (ENOENT). A VXLAN device answers for
// a MAC with its first destination only: fine for a sandbox's MAC, which
// has one; the all-zero MAC's (one per remote host) are read by a dump.
std::optional<NeighEntry> get_forwarding(int fd, int ifindex, const Mac& mac, bool master, const std::string& what) {
    ndmsg ndm{};
    ndm.ndm_family = AF_BRIDGE;
    ndm.ndm_ifindex = ifindex;
    ndm.ndm_flags = master ? NTF_MASTER : NTF_SELF;
    Request req(RTM_GETNEIGH, 0, ndm);
    req.put(NDA_LLADDR, mac.bytes.data(), mac.bytes.size());
    std::optional<NeighEntry> out;
    run(fd, req, false, what, "read a forwarding entry", [&] { out.reset(); },
        [&](nlmsghdr* h) { out = parse_neighbour(h, AF_BRIDGE, ifindex); });
    if (out && out->ip.has_value() == master) out.reset();  // the other table's entry
    return out;
}

std::optional<NeighEntry> get_neighbour(int fd, int ifindex, const IpAddr& ip, const std::string& what) {
    ndmsg ndm{};
    ndm.ndm_family = uint8_t(ip.is_v4() ? AF_INET : AF_INET6);
    ndm.ndm_ifindex = ifindex;
    Request req(RTM_GETNEIGH, 0, ndm);
    req.put(NDA_DST, ip.bytes.data(), ip.is_v4() ? 4 : 16);
    std::optional<NeighEntry> out;
    run(fd, req, false, what, "read a neighbour entry", [&] { out.reset(); },
        [&](nlmsghdr* h) { out = parse_neighbour(h, ndm.ndm_family, ifindex); });
    return out;
}

std::optional<int> netns_id(int fd, int netns_fd, bool assign, const std::string& what) {
    uint32_t target = uint32_t(netns_fd);
    std::optional<int> id;
    Request get(RTM_GETNSID, 0, rtgenmsg{AF_UNSPEC});
    get.put(NETNSA_FD, &target, sizeof target);
    auto ask = [&] {
        run(fd, get, false, what, "read nsid", [&] { id.reset(); }, [&](nlmsghdr* h) {
            nlattr* tb[NETNSA_MAX + 1];
            if (h->nlmsg_type == RTM_NEWNSID && nlmsg_parse(h, sizeof(rtgenmsg), tb, NETNSA_MAX, nullptr) >= 0 &&
                tb[NETNSA_NSID] && nla_len(tb[NETNSA_NSID]) >= 4 && int(nla_get_s32(tb[NETNSA_NSID])) >= 0)
                id = int(nla_get_s32(tb[NETNSA_NSID]));
        });
    };
    ask();
    if (id || !assign) return id;
    Request set(RTM_NEWNSID, NLM_F_ACK, rtgenmsg{AF_UNSPEC});
    int32_t any = -1;  // the kernel picks the next free id
    set.put(NETNSA_FD, &target, sizeof target);
    set.put(NETNSA_NSID, &any, sizeof any);
    run(fd, set, false, what, "assign nsid", [] {}, [](nlmsghdr*) {});
    ask();
    return id;
}

}  // namespace topo
