// A foreign bridge (an external network): what it holds, and whether an
// address is in use on it.
//
// topo hands out addresses on a bridge it did not make, which others (Docker,
// another project, a host service) use too. What it avoids: the bridge's own
// addresses, every address its neighbour table has seen (not FAILED or
// INCOMPLETE), and, right before a new address is given out, anything that
// answers an ARP probe for it (RFC 5227: a request from 0.0.0.0, so no host
// learns a mapping from the probe itself). The RFC waits 1-2 s per probe
// for a LAN of unknown hosts; a bridge's ports answer in microseconds, so
// topo sends two probes 100 ms apart and listens for 300 ms in all. An IPv6
// address gets a Neighbor Solicitation, as duplicate address detection
// sends, and the same 300 ms for an advertisement.
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/if_ether.h>
#include <netlink/route/neighbour.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fmt/format.h>

#include "kernel/real.hpp"

namespace topo {

std::optional<BridgeFacts> RealKernel::bridge_facts(const std::string& name) {
    const int fd = nl_socket_get_fd(sock(""));
    LinkDump links = dump_links(fd, "host namespace");
    auto* br = links.find(name);
    if (!br || br->kind != "bridge") return std::nullopt;
    BridgeFacts out;
    for (auto& a : dump_addresses(fd, "host namespace"))
        if (a.ifindex == br->ifindex) out.addresses.push_back(a.prefix);
    for (auto& l : links.links)
        if (l.master == br->ifindex) out.ports.push_back({l.name, l.alias});
    nl_cache* neigh = nullptr;
    if (int err = rtnl_neigh_alloc_cache(sock(""), &neigh); err < 0) nl::fail("bridge " + name, "read neighbours", err);
    for (auto* o = nl_cache_get_first(neigh); o; o = nl_cache_get_next(o)) {
        auto* n = (rtnl_neigh*)o;
        if (rtnl_neigh_get_ifindex(n) != br->ifindex) continue;
        if (rtnl_neigh_get_state(n) & (NUD_FAILED | NUD_INCOMPLETE)) continue;
        nl_addr* dst = rtnl_neigh_get_dst(n);
        if (!dst) continue;
        char buf[64];
        if (auto a = IpAddr::parse(nl_addr2str(dst, buf, sizeof buf))) out.neighbours.push_back(*a);
    }
    nl_cache_free(neigh);
    return out;
}

namespace {

// An ARP request for `target` from 0.0.0.0 (an RFC 5227 probe).
ether_arp probe_for(const IpAddr& target, const uint8_t* mac) {
    ether_arp a{};
    a.arp_hrd = htons(ARPHRD_ETHER);
    a.arp_pro = htons(ETH_P_IP);
    a.arp_hln = 6;
    a.arp_pln = 4;
    a.arp_op = htons(ARPOP_REQUEST);
    std::memcpy(a.arp_sha, mac, 6);
    std::memcpy(a.arp_tpa, target.bytes.data(), 4);
    return a;
}

// Closes a socket when it goes out of scope.
struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// IPv6: a Neighbor Solicitation for `a` to its solicited-node multicast
// group, as duplicate address detection sends one (RFC 4862 5.4), and a
// Neighbor Advertisement for it in 300 ms means it is taken. Sent from the
// bridge's link-local address (a raw socket cannot send from ::); one
// without IPv6 has no IPv6 neighbours to ask.
bool ipv6_in_use(int ifindex, const Mac& mac, const std::string& bridge, const IpAddr& a, const std::string& what) {
    Fd sock{::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6)};
    int fd = sock.fd;
    if (fd < 0) nl::fail_errno(what, "icmpv6 socket");
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    ICMP6_FILTER_SETPASS(ND_NEIGHBOR_ADVERT, &filter);
    int hops = 255;  // RFC 4861: neighbour discovery is link-local only
    if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0 ||
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) != 0 ||
        ::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, bridge.c_str(), socklen_t(bridge.size())) != 0)
        nl::fail_errno(what, "icmpv6 socket options");
    // With the source link-layer address option, which a solicitation from a
    // unicast address must carry (RFC 4861 4.3): Linux drops one without it.
    struct {
        nd_neighbor_solicit ns;
        nd_opt_hdr opt;
        uint8_t lladdr[6];
    } __attribute__((packed)) ns{};
    ns.ns.nd_ns_type = ND_NEIGHBOR_SOLICIT;
    std::memcpy(&ns.ns.nd_ns_target, a.bytes.data(), 16);
    ns.opt.nd_opt_type = ND_OPT_SOURCE_LINKADDR;
    ns.opt.nd_opt_len = 1;  // in units of 8 bytes
    std::memcpy(ns.lladdr, mac.bytes.data(), 6);
    sockaddr_in6 to{};
    to.sin6_family = AF_INET6;
    to.sin6_scope_id = uint32_t(ifindex);
    const uint8_t group[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, a.bytes[13], a.bytes[14], a.bytes[15]};
    std::memcpy(&to.sin6_addr, group, 16);
    if (::sendto(fd, &ns, sizeof ns, 0, (sockaddr*)&to, sizeof to) < 0) {
        if (errno == EADDRNOTAVAIL || errno == ENETUNREACH || errno == ENETDOWN) return false;
        nl::fail_errno(what, "send");
    }
    auto start = std::chrono::steady_clock::now();
    for (;;) {
        auto left = 300 - std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
        if (left <= 0) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, int(left)) <= 0) continue;
        nd_neighbor_advert na{};
        if (::recv(fd, &na, sizeof na, 0) < ssize_t(sizeof na)) continue;
        if (na.nd_na_type == ND_NEIGHBOR_ADVERT && std::memcmp(&na.nd_na_target, a.bytes.data(), 16) == 0) return true;
    }
}

// IPv4: two RFC 5227 probes 100 ms apart; a reply from the address, or
// another host probing for it at the same time, within 300 ms means taken.
bool ipv4_in_use(int ifindex, const Mac& mac, const IpAddr& a, const std::string& what) {
    Fd sock{::socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP))};
    int fd = sock.fd;
    if (fd < 0) nl::fail_errno(what, "packet socket");
    sockaddr_ll ll{};
    ll.sll_family = AF_PACKET;
    ll.sll_protocol = htons(ETH_P_ARP);
    ll.sll_ifindex = ifindex;
    if (::bind(fd, (sockaddr*)&ll, sizeof ll) != 0) nl::fail_errno(what, "bind");
    sockaddr_ll to = ll;
    to.sll_halen = 6;
    std::memset(to.sll_addr, 0xff, 6);
    auto packet = probe_for(a, mac.bytes.data());
    using clock = std::chrono::steady_clock;
    auto start = clock::now();
    int sent = 0;
    for (;;) {
        auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - start).count();
        if (sent < 2 && elapsed >= 100 * sent) {
            if (::sendto(fd, &packet, sizeof packet, 0, (sockaddr*)&to, sizeof to) < 0) nl::fail_errno(what, "send");
            ++sent;
        }
        if (elapsed >= 300) return false;
        pollfd p{fd, POLLIN, 0};
        int wait = int(std::min<long>(300 - elapsed, sent < 2 ? 100 * sent - elapsed : 300));
        if (::poll(&p, 1, std::max(wait, 1)) <= 0) continue;
        ether_arp in{};
        if (::recv(fd, &in, sizeof in, 0) < ssize_t(sizeof in)) continue;
        if (ntohs(in.arp_pro) != ETH_P_IP) continue;
        // A reply from the address, or another host probing for it at the same time.
        bool reply = ntohs(in.arp_op) == ARPOP_REPLY && std::memcmp(in.arp_spa, a.bytes.data(), 4) == 0;
        bool rival = ntohs(in.arp_op) == ARPOP_REQUEST && std::memcmp(in.arp_tpa, a.bytes.data(), 4) == 0 &&
                     std::memcmp(in.arp_sha, mac.bytes.data(), 6) != 0;
        if (reply || rival) return true;
    }
}

}  // namespace

bool RealKernel::address_in_use(const std::string& bridge, const IpAddr& a) {
    auto what = fmt::format("bridge {}: probe {}", bridge, a.str());
    LinkDump one;
    get_link(nl_socket_get_fd(sock("")), bridge, 0, one, "host namespace");
    if (one.links.empty() || !one.links.front().mac) throw KernelError(what + ": no such bridge");
    auto& br = one.links.front();
    return a.is_v4() ? ipv4_in_use(br.ifindex, *br.mac, a, what) : ipv6_in_use(br.ifindex, *br.mac, bridge, a, what);
}

}  // namespace topo
