// The host namespace's bound sockets (TCP listeners and bound UDP sockets),
// through NETLINK_SOCK_DIAG as `ss -ltun` reads them: a published port that a
// host program already listens on would have its traffic taken by topo's
// DNAT (publishing 22 would lock an operator out of SSH).
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fmt/format.h>

#include "kernel/real.hpp"

namespace topo {

namespace {
constexpr unsigned tcp_listen = 10;  // TCP_LISTEN in the kernel's state numbering
}

std::vector<Listener> RealKernel::listeners() {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) nl::fail_errno("sock_diag", "socket");
    struct Close {
        int fd;
        ~Close() { ::close(fd); }
    } closer{fd};
    std::vector<Listener> out;
    for (int family : {AF_INET, AF_INET6})
        for (int proto : {IPPROTO_TCP, IPPROTO_UDP}) {
            struct {
                nlmsghdr h;
                inet_diag_req_v2 r;
            } req{};
            req.h.nlmsg_len = sizeof req;
            req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
            req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
            req.r.sdiag_family = uint8_t(family);
            req.r.sdiag_protocol = uint8_t(proto);
            req.r.idiag_states = proto == IPPROTO_TCP ? (1u << tcp_listen) : ~0u;
            if (::send(fd, &req, sizeof req, 0) < 0) nl::fail_errno("sock_diag", "send");
            alignas(nlmsghdr) char buf[32768];
            for (bool done = false; !done;) {
                ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n < 0) nl::fail_errno("sock_diag", "receive");
                for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
                    if (h->nlmsg_type == NLMSG_DONE) { done = true; break; }
                    if (h->nlmsg_type == NLMSG_ERROR) {
                        done = true;  // a kernel without UDP diag: nothing to say about UDP
                        break;
                    }
                    auto* m = static_cast<inet_diag_msg*>(NLMSG_DATA(h));
                    uint16_t port = ntohs(m->id.idiag_sport);
                    if (!port) continue;
                    IpAddr a;
                    a.family = family == AF_INET ? 4 : 6;
                    std::memcpy(a.bytes.data(), m->id.idiag_src, family == AF_INET ? 4 : 16);
                    out.push_back({proto == IPPROTO_TCP ? "tcp" : "udp", a, port});
                }
            }
        }
    return out;
}

}  // namespace topo
