// `topo probe`'s attempts (RealKernel::probe): TCP connections and ICMP
// echoes from inside namespaces, all at once, each with a timeout.
//
// A socket keeps the namespace it was made in, so this thread enters each
// source namespace (setns, and back) only to make its sockets; they are then
// polled together from here. Connections close with a reset (SO_LINGER 0),
// leaving no TIME_WAIT behind; listeners never accept — the kernel completes
// each handshake into the queue — and close when the probe ends.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <utility>

#include "kernel/netns.hpp"
#include "kernel/real.hpp"

namespace topo {

namespace {

using Clock = std::chrono::steady_clock;

struct Fd {
    int fd = -1;
    Fd() = default;
    explicit Fd(int f) : fd(f) {}
    Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            if (fd >= 0) ::close(fd);
            fd = std::exchange(o.fd, -1);
        }
        return *this;
    }
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Runs `make` inside namespace `ns` ("" = where this thread is).
template <class F>
auto inside(const std::string& ns, std::map<std::string, Fd>& open, F make) -> decltype(make()) {
    if (ns.empty()) return make();
    auto it = open.find(ns);
    if (it == open.end()) it = open.emplace(ns, Fd(netns::open_fd(ns))).first;
    if (it->second.fd < 0) {  // gone: each attempt from it fails, saying so
        errno = ENOENT;
        return -1;
    }
    netns::Enter in(it->second.fd);
    return make();
}

sockaddr_storage address(const IpAddr& a, uint16_t port, socklen_t& len) {
    sockaddr_storage ss{};
    if (a.is_v4()) {
        auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
        len = sizeof(sockaddr_in);
    } else {
        auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(port);
        std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
        len = sizeof(sockaddr_in6);
    }
    return ss;
}

// A dual-stack listener on every address, or an IPv4 one where IPv6 is off;
// -1 when the port is taken (a program listens there: it will answer). A
// port it may not take (below 1024 without CAP_NET_BIND_SERVICE) would make
// every probe to it look refused: that stops the probe, said.
int listen_on(uint16_t port, const std::string& netns) {
    for (int family : {AF_INET6, AF_INET}) {
        int s = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) continue;
        int one = 1, zero = 0;
        ::setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (family == AF_INET6) ::setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        socklen_t len = 0;
        auto any = address(family == AF_INET6 ? IpAddr{6, {}} : IpAddr::v4(0), port, len);
        if (::bind(s, reinterpret_cast<sockaddr*>(&any), len) == 0 && ::listen(s, 4096) == 0) return s;
        int err = errno;
        ::close(s);
        if (err == EADDRINUSE) return -1;
        if (err == EACCES)
            throw KernelError(fmt::format("probe: cannot listen on port {} in {}: {}{}", port, netns.empty() ? "the host" : netns,
                                          std::strerror(err), port < 1024 ? " (a port below 1024 needs CAP_NET_BIND_SERVICE)" : ""));
    }
    return -1;
}

std::string failure(int err, std::chrono::milliseconds timeout) {
    switch (err) {
        case ECONNREFUSED: return "refused";
        case EHOSTUNREACH: return "host unreachable";
        case ENETUNREACH: return "network unreachable";
        case ETIMEDOUT: return fmt::format("no answer in {} ms", timeout.count());
        default: return std::strerror(err);
    }
}

// How many sockets may be open at once: the soft limit raised to the hard one.
size_t wave_size() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    ::getrlimit(RLIMIT_NOFILE, &rl);
    // (Leaving room for the listeners, the namespaces and the echoes' sockets.)
    auto room = rl.rlim_cur > 4096 ? size_t(rl.rlim_cur - 2048) : size_t(rl.rlim_cur / 2);
    return std::min<size_t>(room, 16384);
}

// Polls `fds` until `left` attempts are settled or the deadline passes;
// ready(i) handles the descriptor at i and says how many it settled.
template <class F>
void poll_until(std::vector<pollfd>& fds, Clock::time_point deadline, size_t left, F ready) {
    while (left > 0) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (wait <= 0) return;
        int n = ::poll(fds.data(), fds.size(), int(wait));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        for (size_t i = 0; i < fds.size(); ++i)
            if (fds[i].fd >= 0 && fds[i].revents) left -= std::min(left, ready(i));
    }
}

void tcp_wave(const ProbeRun& run, const std::vector<size_t>& wave, std::map<std::string, Fd>& ns,
              std::vector<ProbeOutcome>& out) {
    std::vector<Fd> socks(wave.size());
    std::vector<pollfd> fds;
    std::vector<size_t> pending;  // index into wave
    for (size_t w = 0; w < wave.size(); ++w) {
        auto& p = run.probes[wave[w]];
        int s = inside(p.from, ns, [&] {
            return ::socket(p.to.is_v4() ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        });
        if (s < 0) {
            int err = errno;
            out[wave[w]] = {false, err == ENOENT ? fmt::format("no namespace {}", p.from) : fmt::format("no socket: {}", std::strerror(err))};
            continue;
        }
        socks[w] = Fd(s);
        linger lg{1, 0};
        ::setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        socklen_t len = 0;
        auto to = address(p.to, p.port, len);
        if (::connect(s, reinterpret_cast<sockaddr*>(&to), len) == 0) {
            out[wave[w]] = {true, "connected"};
        } else if (errno == EINPROGRESS) {
            fds.push_back({s, POLLOUT, 0});
            pending.push_back(w);
        } else {
            out[wave[w]] = {false, failure(errno, run.timeout)};
        }
    }
    poll_until(fds, Clock::now() + run.timeout, fds.size(), [&](size_t i) -> size_t {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &len);
        out[wave[pending[i]]] = err == 0 ? ProbeOutcome{true, "connected"} : ProbeOutcome{false, failure(err, run.timeout)};
        fds[i].fd = -1;  // (poll skips a negative descriptor)
        return 1;
    });
    for (size_t i = 0; i < fds.size(); ++i)
        if (fds[i].fd >= 0) out[wave[pending[i]]] = {false, failure(ETIMEDOUT, run.timeout)};
}

uint16_t checksum(const uint8_t* data, size_t len) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(data[i] << 8 | data[i + 1]);
    if (len & 1) sum += uint32_t(data[len - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// ICMP echoes: one raw socket per source namespace and family; each echo's
// sequence number is its probe's place in `pings`, the identifier one per run.
void pings(const ProbeRun& run, const std::vector<size_t>& which, std::map<std::string, Fd>& ns,
           std::vector<ProbeOutcome>& out) {
    if (which.empty()) return;
    uint16_t id = uint16_t(std::random_device{}());
    std::map<std::pair<std::string, int>, Fd> raw;
    std::map<std::pair<std::string, int>, std::string> no_socket;  // why, where none could be made
    std::vector<bool> answered(which.size());
    for (size_t k = 0; k < which.size(); ++k) {
        auto& p = run.probes[which[k]];
        int family = p.to.is_v4() ? AF_INET : AF_INET6;
        auto key = std::make_pair(p.from, family);
        if (!raw.count(key)) {
            int s = inside(p.from, ns, [&] {
                return ::socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, family == AF_INET ? int(IPPROTO_ICMP) : int(IPPROTO_ICMPV6));
            });
            if (s < 0) no_socket[key] = errno == ENOENT ? fmt::format("no namespace {}", p.from) : fmt::format("no ICMP socket: {}", std::strerror(errno));
            raw.emplace(key, Fd(s));
        }
        int s = raw.at(key).fd;
        if (s < 0) {
            out[which[k]] = {false, no_socket[key]};
            answered[k] = true;
            continue;
        }
        uint8_t msg[16] = {};
        msg[0] = family == AF_INET ? ICMP_ECHO : ICMP6_ECHO_REQUEST;
        msg[4] = uint8_t(id >> 8), msg[5] = uint8_t(id);
        msg[6] = uint8_t(k >> 8), msg[7] = uint8_t(k);
        std::memcpy(msg + 8, "topoprob", 8);
        if (family == AF_INET) {  // (the kernel sums ICMPv6 itself)
            auto sum = checksum(msg, sizeof msg);
            msg[2] = uint8_t(sum >> 8), msg[3] = uint8_t(sum);
        }
        socklen_t len = 0;
        auto to = address(p.to, 0, len);
        if (::sendto(s, msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&to), len) < 0) {
            out[which[k]] = {false, failure(errno, run.timeout)};
            answered[k] = true;
        }
    }
    std::vector<pollfd> fds;
    std::vector<int> families;
    for (auto& [key, fd] : raw)
        if (fd.fd >= 0) fds.push_back({fd.fd, POLLIN, 0}), families.push_back(key.second);
    auto left = size_t(std::count(answered.begin(), answered.end(), false));
    poll_until(fds, Clock::now() + run.timeout, left, [&](size_t i) -> size_t {
        size_t settled = 0;
        if (fds[i].revents & POLLIN) {
            uint8_t buf[1500];
            ssize_t got;
            while ((got = ::recv(fds[i].fd, buf, sizeof buf, 0)) > 0) {
                const uint8_t* icmp = buf;
                size_t size = size_t(got);
                if (families[i] == AF_INET) {  // a raw IPv4 socket hands over the IP header too
                    size_t ihl = size_t(buf[0] & 0x0f) * 4;
                    if (size < ihl + 8) continue;
                    icmp += ihl, size -= ihl;
                }
                if (size < 8 || icmp[0] != (families[i] == AF_INET ? ICMP_ECHOREPLY : ICMP6_ECHO_REPLY)) continue;
                if (uint16_t(icmp[4] << 8 | icmp[5]) != id) continue;
                size_t k = size_t(icmp[6] << 8 | icmp[7]);
                if (k >= which.size() || answered[k]) continue;
                answered[k] = true;
                out[which[k]] = {true, "echo reply"};
                ++settled;
            }
        }
        return settled;
    });
    for (size_t k = 0; k < which.size(); ++k)
        if (!answered[k]) out[which[k]] = {false, failure(ETIMEDOUT, run.timeout)};
}

}  // namespace

std::vector<ProbeOutcome> RealKernel::probe(const ProbeRun& run) {
    std::map<std::string, Fd> ns;
    std::vector<Fd> listeners;
    for (auto& l : run.listeners)
        if (int s = inside(l.netns, ns, [&] { return listen_on(l.port, l.netns); }); s >= 0) listeners.emplace_back(s);
    std::vector<ProbeOutcome> out(run.probes.size());
    std::vector<size_t> tcp, ping;
    for (size_t i = 0; i < run.probes.size(); ++i) (run.probes[i].kind == Probe::Kind::Tcp ? tcp : ping).push_back(i);
    // Grouped by source namespace, so each is entered once per wave.
    std::stable_sort(tcp.begin(), tcp.end(), [&](size_t a, size_t b) { return run.probes[a].from < run.probes[b].from; });
    auto size = wave_size();
    // The echoes on a thread of their own (its own namespace entries and
    // descriptors), while this one makes the connections: the two waits overlap.
    std::exception_ptr failed;
    std::thread echoes([&] {
        try {
            std::map<std::string, Fd> own;
            for (size_t at = 0; at < ping.size(); at += 60000)  // (sequence numbers are 16 bits)
                pings(run, {ping.begin() + long(at), ping.begin() + long(std::min(ping.size(), at + 60000))}, own, out);
        } catch (...) {
            failed = std::current_exception();
        }
    });
    try {
        for (size_t at = 0; at < tcp.size(); at += size) {
            std::vector<size_t> wave(tcp.begin() + long(at), tcp.begin() + long(std::min(tcp.size(), at + size)));
            tcp_wave(run, wave, ns, out);
        }
    } catch (...) {
        echoes.join();
        throw;
    }
    echoes.join();
    if (failed) std::rethrow_exception(failed);
    return out;
}

}  // namespace topo
