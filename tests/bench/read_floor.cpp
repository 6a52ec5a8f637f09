// What the kernel alone costs to read a host's sandboxes: for every network
// namespace in /run/netns whose name starts with PREFIX, what a reader cannot
// avoid — open it, setns into it, open a route-netlink socket there, send the
// dumps topo sends to a sandbox on an IPv4-only network (links without
// counters; IPv4 addresses; the main table's static IPv4 routes, filtered by
// the kernel under strict checking — IPv6 is off on such a sandbox's links,
// so topo asks for no IPv6 address or route), receive every message and throw
// it away unparsed, close the socket.
// No libnl, no parsing, no allocation per message: the floor under any
// netlink reader, topo's included. Built and run by bench.sh (not part of topo).
//
//   read_floor PREFIX THREADS [REPEATS]   prints "<total> <base> <links> <addrs> <routes4>"
// in ms, the median of REPEATS: all four dumps, then each part alone (base =
// open, setns, socket and close only; a dump's figure includes the base).
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

enum Part { Links = 1, Addrs = 2, Routes4 = 4, All = 7 };

void dump(int s, int type, int family, char* buf, size_t cap) {
    struct {
        nlmsghdr h;
        union {
            ifinfomsg link;
            ifaddrmsg addr;
            rtmsg route;
        };
        rtattr attr;
        uint32_t mask;
    } req{};
    req.h.nlmsg_type = uint16_t(type);
    req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.h.nlmsg_len = NLMSG_LENGTH(sizeof req.link);
    if (type == RTM_GETLINK) {  // as topo asks: without counters
        req.attr.rta_type = IFLA_EXT_MASK;
        req.attr.rta_len = RTA_LENGTH(sizeof req.mask);
        req.mask = RTEXT_FILTER_SKIP_STATS;
        req.h.nlmsg_len = sizeof req;
    }
    req.route.rtm_family = uint8_t(family);  // the first byte of each header
    if (type == RTM_GETROUTE) {
        req.route.rtm_table = RT_TABLE_MAIN;
        req.route.rtm_protocol = RTPROT_STATIC;
    }
    if (::send(s, &req, req.h.nlmsg_len, 0) < 0) std::perror("send"), std::exit(1);
    for (;;) {
        ssize_t n = ::recv(s, buf, cap, 0);
        if (n < 0) std::perror("recv"), std::exit(1);
        int len = int(n);
        for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return;
    }
}

double read_all(const std::vector<std::string>& names, int threads, int parts) {
    std::atomic<size_t> next{0};
    auto work = [&] {
        std::vector<char> buf(32 * 1024);
        for (size_t i; (i = next++) < names.size();) {
            int fd = ::open(("/run/netns/" + names[i]).c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) std::perror(names[i].c_str()), std::exit(1);
            ::close(fd);
            int s = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
            int on = 1;
            ::setsockopt(s, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &on, sizeof on);
            if (parts & Links) dump(s, RTM_GETLINK, AF_UNSPEC, buf.data(), buf.size());
            if (parts & Addrs) dump(s, RTM_GETADDR, AF_INET, buf.data(), buf.size());
            if (parts & Routes4) dump(s, RTM_GETROUTE, AF_INET, buf.data(), buf.size());
            ::close(s);
        }
    };
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t) ts.emplace_back(work);
    for (auto& t : ts) t.join();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: read_floor PREFIX THREADS [REPEATS]\n");
        return 2;
    }
    std::string prefix = argv[1];
    int threads = std::max(1, std::atoi(argv[2]));
    int repeats = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
    std::vector<std::string> names;
    if (DIR* d = ::opendir("/run/netns")) {
        while (auto* e = ::readdir(d))
            if (std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0) names.push_back(e->d_name);
        ::closedir(d);
    }
    for (int parts : {int(All), 0, int(Links), int(Addrs), int(Routes4)}) {
        std::vector<double> t;
        for (int r = 0; r < repeats; ++r) t.push_back(read_all(names, threads, parts));
        std::sort(t.begin(), t.end());
        std::printf("%s%.1f", parts == All ? "" : " ", t[t.size() / 2]);
    }
    std::printf("\n");
}
