// libnl's sockets and errors, wrapped (kernel/nl.hpp): a route socket per
// namespace, and kernel messages turned into errors that name the object.
#include "kernel/nl.hpp"

#include <netlink/attr.h>
#include <netlink/errno.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace topo::nl {

void fail(const std::string& what, const char* step, int nl_err) {
    throw KernelError(fmt::format("{}: {}: {}", what, step, nl_geterror(nl_err)));
}

void fail_errno(const std::string& what, const char* step) {
    throw KernelError(fmt::format("{}: {}: {}", what, step, std::strerror(errno)));
}

bool is_gone(int nl_err) {
    int e = nl_err < 0 ? -nl_err : nl_err;
    return e == NLE_OBJ_NOTFOUND || e == NLE_NODEV || e == NLE_NOADDR;
}

std::string string_of(nlattr* a) {
    if (!a || nla_len(a) <= 0) return "";
    auto* s = static_cast<const char*>(nla_data(a));
    return std::string(s, strnlen(s, size_t(nla_len(a))));
}

std::optional<IpAddr> ip_of(nlattr* a, int family) {
    if (!a) return std::nullopt;
    IpAddr ip;
    size_t len = size_t(nla_len(a));
    if (family == AF_INET && len == 4) ip.family = 4;
    else if (family == AF_INET6 && len == 16) ip.family = 6;
    else return std::nullopt;
    std::memcpy(ip.bytes.data(), nla_data(a), len);
    return ip;
}

Sock connect_route(bool big) {
    Sock s(nl_socket_alloc());
    if (!s) throw KernelError("netlink: cannot allocate a socket");
    if (int err = nl_connect(s.get(), NETLINK_ROUTE); err < 0) fail("netlink", "connect", err);
    // Large dumps (1000 sandboxes) need room.
    if (big) {
        nl_socket_set_buffer_size(s.get(), 1 << 20, 1 << 20);
        return s;
    }
    // A sandbox's socket: one recvmsg per message batch instead of a MSG_PEEK
    // first to size the buffer. Its links are topo's veths, macvlans and lo,
    // whose messages are small; the host's (where a NIC with many SR-IOV VFs
    // can send one message over 64 KiB) keeps peeking, and grows its buffer.
    nl_socket_disable_msg_peek(s.get());
    nl_socket_set_msg_buf_size(s.get(), 64 * 1024);
    return s;
}

int subscribed(int protocol, std::initializer_list<int> groups, int buffer) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, protocol);
    if (fd < 0) fail_errno("netlink events", "socket");
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer) < 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    sockaddr_nl sa{};
    sa.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0) {
        ::close(fd);
        fail_errno("netlink events", "bind");
    }
    for (int g : groups)
        if (::setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &g, sizeof g) < 0) {
            ::close(fd);
            fail_errno("netlink events", "subscribe");
        }
    return fd;
}

}  // namespace topo::nl
