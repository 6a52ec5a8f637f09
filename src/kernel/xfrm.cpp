// Whether this kernel can encrypt an overlay: ESP in transport mode between
// the tunnel endpoints, through xfrm (the design is in ARCHITECTURE.md).
//
// Found out by asking the kernel, not by reading its configuration: a
// thread of its own enters a new, empty network namespace and adds an ESP
// security association there. The namespace
// goes with the thread, so the host's own xfrm state is never touched, and
// a plan stays a read. The kernel's answer names what is missing: no xfrm
// netlink (CONFIG_XFRM_USER), no ESP transform (CONFIG_INET_ESP), or not
// the algorithms.
#include <linux/xfrm.h>
#include <netinet/in.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <sys/socket.h>
#include <unistd.h>
#include <sched.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <thread>

#include <fmt/format.h>

#include "kernel/real.hpp"

namespace topo {

namespace {

std::string esp_probe() {
    if (::unshare(CLONE_NEWNET) != 0)
        return fmt::format("cannot make a namespace to ask the kernel in ({})", std::strerror(errno));
    // A plain socket: the kernel's errno is the answer, and libnl's error
    // codes fold several into one.
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_XFRM);
    if (fd < 0) return "the kernel has no xfrm netlink interface (CONFIG_XFRM_USER), which manages IPsec";
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    nl_msg* m = nlmsg_alloc_simple(XFRM_MSG_NEWSA, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
    if (!m) return "out of memory";
    xfrm_usersa_info sa{};
    sa.family = AF_INET;
    sa.mode = XFRM_MODE_TRANSPORT;
    sa.id.proto = IPPROTO_ESP;
    sa.id.spi = htonl(0x100);
    sa.id.daddr.a4 = htonl(0xc0000202);  // 192.0.2.2 and .1: documentation addresses, in a namespace of its own
    sa.saddr.a4 = htonl(0xc0000201);
    sa.sel.family = AF_INET;
    sa.lft.soft_byte_limit = sa.lft.hard_byte_limit = XFRM_INF;
    sa.lft.soft_packet_limit = sa.lft.hard_packet_limit = XFRM_INF;
    // AES-CBC with HMAC-SHA256, which kernels with any ESP have: the
    // algorithms are looked up before the transform, so a rarer one would
    // hide whether ESP itself is there. Keys of zeros: the association
    // never carries a packet.
    alignas(xfrm_algo) char crypt[sizeof(xfrm_algo) + 16]{};
    xfrm_algo c{};
    std::strcpy(c.alg_name, "cbc(aes)");
    c.alg_key_len = 128;
    std::memcpy(crypt, &c, sizeof c);
    alignas(xfrm_algo_auth) char auth[sizeof(xfrm_algo_auth) + 32]{};
    xfrm_algo_auth h256{};
    std::strcpy(h256.alg_name, "hmac(sha256)");
    h256.alg_key_len = 256;
    h256.alg_trunc_len = 128;
    std::memcpy(auth, &h256, sizeof h256);
    if (nlmsg_append(m, &sa, sizeof sa, NLMSG_ALIGNTO) < 0 || nla_put(m, XFRMA_ALG_CRYPT, sizeof crypt, crypt) < 0 ||
        nla_put(m, XFRMA_ALG_AUTH_TRUNC, sizeof auth, auth) < 0) {
        nlmsg_free(m);
        return "out of memory";
    }
    nlmsghdr* h = nlmsg_hdr(m);
    ssize_t sent = ::send(fd, h, h->nlmsg_len, 0);
    nlmsg_free(m);
    if (sent < 0) return fmt::format("cannot ask the kernel ({})", std::strerror(errno));
    alignas(nlmsghdr) char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    auto* reply = reinterpret_cast<nlmsghdr*>(buf);
    if (n < ssize_t(NLMSG_LENGTH(sizeof(nlmsgerr))) || reply->nlmsg_type != NLMSG_ERROR)
        return "the kernel gave no answer about ESP";
    int err = -static_cast<nlmsgerr*>(NLMSG_DATA(reply))->error;
    switch (err) {
        case 0: return "";
        case EPROTONOSUPPORT: return "the kernel has no ESP transform for xfrm (CONFIG_INET_ESP)";
        case ENOSYS:
        case ENOENT: return "the kernel has no AES-CBC or HMAC-SHA256 for ESP (CONFIG_CRYPTO_CBC, CONFIG_CRYPTO_SHA256)";
        default: return fmt::format("the kernel refused an ESP security association: {}", std::strerror(err));
    }
}

}  // namespace

std::string RealKernel::cannot_encrypt() {
    if (!encryption_) {
        try {
            // A thread of its own: the namespace it enters is its own, and goes with it.
            encryption_ = std::async(std::launch::async, esp_probe).get();
        } catch (const std::system_error&) {
            encryption_ = "no thread to ask the kernel from";
        }
    }
    return *encryption_;
}

}  // namespace topo
