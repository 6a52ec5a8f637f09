// Addresses, routes and sysctls.
//
// IPv6 addresses are added with IFA_F_NODAD: a sandbox's address must work the
// moment apply returns, and topo's IPAM already guarantees uniqueness. Routes
// are added with protocol "static", which is how topo recognises its own when
// reading a sandbox back (the kernel's connected routes are "kernel").
#include <netlink/route/addr.h>
#include <netlink/route/route.h>

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include "kernel/links.hpp"
#include "kernel/netns.hpp"
#include "kernel/real.hpp"

namespace topo {

namespace {

nl_addr* to_nl(const IpAddr& a, int prefixlen) {
    nl_addr* n = nl_addr_build(a.is_v4() ? AF_INET : AF_INET6, a.bytes.data(), a.is_v4() ? 4 : 16);
    nl_addr_set_prefixlen(n, prefixlen);
    return n;
}

std::string scoped(const std::string& ns, const std::string& s) { return ns.empty() ? s : ns + ":" + s; }

}  // namespace

void address_apply(RealKernel& k, const Address& a, bool add) {
    auto w = fmt::format("address {} {}", scoped(a.ns, a.link), a.prefix.str());
    int idx = k.ifindex(a.ns, a.link, w);
    // A link made on a network without IPv6 has it off (a sandbox end, see
    // Veth::ipv6; an overlay's bridge, Link::ipv6): on again for its first.
    if (add && a.prefix.addr.is_v6()) links::ipv6_back_on(k, a.ns, a.link, true);
    rtnl_addr* ra = rtnl_addr_alloc();
    nl_addr* local = to_nl(a.prefix.addr, a.prefix.len);
    rtnl_addr_set_ifindex(ra, idx);
    rtnl_addr_set_local(ra, local);
    rtnl_addr_set_prefixlen(ra, a.prefix.len);
    if (a.prefix.addr.is_v6()) rtnl_addr_set_flags(ra, IFA_F_NODAD);
    int err = add ? rtnl_addr_add(k.sock(a.ns), ra, NLM_F_EXCL) : rtnl_addr_delete(k.sock(a.ns), ra, 0);
    nl_addr_put(local);
    rtnl_addr_put(ra);
    if (err < 0 && !(!add && nl::is_gone(err))) nl::fail(w, add ? "add" : "delete", err);
}

void route_apply(RealKernel& k, const Route& r, bool add) {
    auto w = fmt::format("route {} {}", scoped(r.ns, r.dst.len ? r.dst.str() : "default"),
                         r.gateway ? "via " + r.gateway->str() : "");
    rtnl_route* rr = rtnl_route_alloc();
    nl_addr* dst = to_nl(r.dst.addr, r.dst.len);
    rtnl_route_set_family(rr, r.dst.addr.is_v4() ? AF_INET : AF_INET6);
    rtnl_route_set_table(rr, RT_TABLE_MAIN);
    rtnl_route_set_protocol(rr, RTPROT_STATIC);
    rtnl_route_set_scope(rr, RT_SCOPE_UNIVERSE);
    rtnl_route_set_type(rr, RTN_UNICAST);
    rtnl_route_set_dst(rr, dst);
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (!r.dev.empty()) rtnl_route_nh_set_ifindex(nh, k.ifindex(r.ns, r.dev, w));
    nl_addr* gw = r.gateway ? to_nl(*r.gateway, r.gateway->bits()) : nullptr;
    if (gw) rtnl_route_nh_set_gateway(nh, gw);
    rtnl_route_add_nexthop(rr, nh);
    int err = add ? rtnl_route_add(k.sock(r.ns), rr, NLM_F_EXCL) : rtnl_route_delete(k.sock(r.ns), rr, 0);
    if (gw) nl_addr_put(gw);
    nl_addr_put(dst);
    rtnl_route_put(rr);
    if (err < 0 && !(!add && nl::is_gone(err))) nl::fail(w, add ? "add" : "delete", err);
}

// /proc/sys/net is per network namespace, decided when the file is opened.
static int open_sysctl(const std::string& ns, const std::string& key, int flags) {
    auto path = "/proc/sys/" + key;
    if (ns.empty()) return ::open(path.c_str(), flags | O_CLOEXEC);
    int nsfd = netns::open_fd(ns);
    if (nsfd < 0) return -1;
    netns::Enter in(nsfd);
    ::close(nsfd);
    return ::open(path.c_str(), flags | O_CLOEXEC);
}

void sysctl_write(RealKernel&, const Sysctl& s) {
    auto w = fmt::format("sysctl {}", scoped(s.ns, s.key));
    int fd = open_sysctl(s.ns, s.key, O_WRONLY);
    if (fd < 0) nl::fail_errno(w, "open");
    auto v = s.value + "\n";
    bool ok = ::write(fd, v.data(), v.size()) == ssize_t(v.size());
    ::close(fd);
    if (!ok) nl::fail_errno(w, "write");
}

std::string sysctl_read(RealKernel&, const std::string& ns, const std::string& key) {
    int fd = open_sysctl(ns, key, O_RDONLY);
    if (fd < 0) return "";
    char buf[256];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    std::string v(buf, n > 0 ? size_t(n) : 0);
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
}

}  // namespace topo
