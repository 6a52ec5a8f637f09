// topo's nftables table in the kernel (kernel/nft.hpp): sending a transaction
// built by nft_batch.cpp and counting its acks, and reading the table back
// (tables, chains, sets and their elements, rules) into the model.
#include "kernel/nft.hpp"

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fmt/format.h>
#include <functional>
#include <memory>
#include <set>
#include <thread>
#include <vector>


#include "kernel/kernel.hpp"
#include "kernel/nft_batch.hpp"
#include "kernel/nft_build.hpp"

namespace topo::nft {

namespace {

// Closing a netfilter socket while the kernel has a committed transaction
// still to free (it waits for an RCU grace period first) waits for that: on
// NETLINK_URELEASE, nft_rcv_nl_event flushes nf_tables' destroy work. strace
// showed close() taking 10-20 ms after a commit, whichever socket it was (the
// verification's read, if not the commit's): half of a one-port apply at
// 1000 sandboxes. So topo's netfilter sockets stay open to the end of the
// run, never read from again, and the exit closes them, by when that work is
// done or nearly (Sockets, in nft.hpp).
struct Socket {
    Sockets& kept;
    mnl_socket* nl = nullptr;
    uint32_t portid = 0;
    uint32_t seq = 0;
    Socket(Sockets& sockets, const std::string& what) : kept(sockets) {
        nl = mnl_socket_open(NETLINK_NETFILTER);
        if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
            throw KernelError(fmt::format("{}: netlink: {}", what, std::strerror(errno)));
        portid = mnl_socket_get_portid(nl);
        seq = uint32_t(time(nullptr));
    }
    ~Socket() {
        if (nl) kept.keep(nl);
    }
};

void grow_buffer(Socket& s, int get, int force, int need, const std::string& what) {
    int have = 0;
    socklen_t len = sizeof have;
    int fd = mnl_socket_get_fd(s.nl);
    if (::getsockopt(fd, SOL_SOCKET, get, &have, &len) == 0 && have < need &&
        ::setsockopt(fd, SOL_SOCKET, force, &need, sizeof need) != 0)
        throw KernelError(fmt::format("{}: a socket buffer of {} bytes: {}", what, need, std::strerror(errno)));
}

// Sends a transaction; the first message the kernel refused, with its errno.
void commit(Socket& s, const Transaction& t) {
    const auto& what = t.what();
    // A transaction is one message to the kernel, which refuses one larger
    // than the socket's send buffer (EMSGSIZE): grow it to fit, as nft does.
    // And one ack a message comes back, each an skb of ~1 KiB against the
    // receive buffer: without room for them all, the read fails with
    // ENOBUFS after the kernel has committed.
    grow_buffer(s, SO_SNDBUF, SO_SNDBUFFORCE, int(t.size()) + 4096, what);
    grow_buffer(s, SO_RCVBUF, SO_RCVBUFFORCE, t.messages() * 2048 + (1 << 16), what);
    if (mnl_socket_sendto(s.nl, t.data(), t.size()) < 0)
        throw KernelError(fmt::format("{}: send: {}", what, std::strerror(errno)));
    int acks = 0, error = 0;
    std::vector<char> rx(MNL_SOCKET_BUFFER_SIZE * 4);
    while (acks < t.messages()) {
        ssize_t n = mnl_socket_recvfrom(s.nl, rx.data(), rx.size());
        if (n < 0) throw KernelError(fmt::format("{}: receive: {}", what, std::strerror(errno)));
        for (auto* h = reinterpret_cast<nlmsghdr*>(rx.data()); mnl_nlmsg_ok(h, int(n)); h = mnl_nlmsg_next(h, reinterpret_cast<int*>(&n))) {
            if (h->nlmsg_type != NLMSG_ERROR) continue;
            auto* e = static_cast<nlmsgerr*>(mnl_nlmsg_get_payload(h));
            ++acks;
            if (e->error && !error) error = -e->error;
        }
        if (error) break;  // the kernel aborts the whole batch at the first error
    }
    s.kept.committed();
    if (error) throw KernelError(fmt::format("{}: commit: {}", what, std::strerror(error)));
}

// The comment in a table's userdata; empty when it has none.
std::string table_comment(const nftnl_table* t) {
    if (!nftnl_table_is_set(t, NFTNL_TABLE_USERDATA)) return {};
    uint32_t len = 0;
    const void* data = nftnl_table_get_data(t, NFTNL_TABLE_USERDATA, &len);
    std::string out;
    nftnl_udata_parse(data, len, [](const nftnl_udata* attr, void* into) {
        auto n = nftnl_udata_len(attr);
        if (nftnl_udata_type(attr) == NFTNL_UDATA_TABLE_COMMENT && n > 0) {
            auto* text = static_cast<const char*>(nftnl_udata_get(attr));
            static_cast<std::string*>(into)->assign(text, strnlen(text, n));
        }
        return 0;
    }, &out);
    return out;
}

// A dump request; `parse` is called for every message of the answer.
// `of`: the family of tables to list (topo's inet, or NFPROTO_UNSPEC for all).
int dump(Socket& s, uint16_t type, const std::function<void(nlmsghdr*)>& fill, const std::function<void(const nlmsghdr*)>& parse,
         uint16_t of = family) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    auto* h = nftnl_nlmsg_build_hdr(buf.data(), type, of, NLM_F_DUMP | NLM_F_ACK, s.seq++);
    if (fill) fill(h);
    if (mnl_socket_sendto(s.nl, h, h->nlmsg_len) < 0) return -errno;
    using Cb = std::function<void(const nlmsghdr*)>;
    auto cb = [](const nlmsghdr* m, void* data) -> int {
        (*static_cast<Cb*>(data))(m);
        return MNL_CB_OK;
    };
    Cb f = parse;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(s.nl, buf.data(), buf.size());
        if (n < 0) return -errno;
        int r = mnl_cb_run(buf.data(), size_t(n), 0, s.portid, cb, &f);
        if (r < 0) return -errno;
        if (r == MNL_CB_STOP) return 0;
    }
}

}  // namespace

void apply(Sockets& sockets, const NftTable* desired, const NftTable* live) {
    Socket s(sockets, "nft-table " + (desired ? *desired : *live).name);
    auto t = transaction(desired, live, s.seq);
    s.seq += uint32_t(t->messages()) + 2;
    commit(s, *t);
}

std::optional<NftTable> read(Sockets& sockets, const std::string& name) {
    auto what = "nft-table " + name;
    Socket s(sockets, what);
    NftTable t;
    t.name = name;
    bool found = false;
    int err = dump(s, NFT_MSG_GETTABLE, nullptr, [&](const nlmsghdr* h) {
        std::unique_ptr<nftnl_table, decltype(&nftnl_table_free)> tb(nftnl_table_alloc(), nftnl_table_free);
        if (nftnl_table_nlmsg_parse(h, tb.get()) == 0 && name == nftnl_table_get_str(tb.get(), NFTNL_TABLE_NAME)) {
            found = true;
            t.owner = table_comment(tb.get());
        }
    });
    if (err < 0) throw KernelError(fmt::format("{}: list tables: {}", what, std::strerror(-err)));
    if (!found) return std::nullopt;
    // A dump that fails half-way would read as a table with less in it.
    auto checked = [&](const char* step, int rc) {
        if (rc < 0) throw KernelError(fmt::format("{}: {}: {}", what, step, std::strerror(-rc)));
    };
    checked("list chains", dump(s, NFT_MSG_GETCHAIN, nullptr, [&](const nlmsghdr* h) {
        std::unique_ptr<nftnl_chain, decltype(&nftnl_chain_free)> c(nftnl_chain_alloc(), nftnl_chain_free);
        if (nftnl_chain_nlmsg_parse(h, c.get()) < 0 || name != nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE)) return;
        NftChain ch;
        ch.name = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
        ch.type = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_TYPE) ? nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TYPE) : "";
        ch.hook = hook_name(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM));
        ch.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
        t.chains.push_back(ch);
    }));
    std::sort(t.chains.begin(), t.chains.end(), [](auto& a, auto& b) { return a.name < b.name; });
    checked("list sets", dump(s, NFT_MSG_GETSET, [&](nlmsghdr* h) {
        auto* set = nftnl_set_alloc();
        nftnl_set_set_str(set, NFTNL_SET_TABLE, name.c_str());
        nftnl_set_nlmsg_build_payload(h, set);
        nftnl_set_free(set);
    }, [&](const nlmsghdr* h) {
        std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> set(nftnl_set_alloc(), nftnl_set_free);
        if (nftnl_set_nlmsg_parse(h, set.get()) < 0 || name != nftnl_set_get_str(set.get(), NFTNL_SET_TABLE)) return;
        NftSet ns;
        ns.name = nftnl_set_get_str(set.get(), NFTNL_SET_NAME);
        uint32_t data_len = nftnl_set_is_set(set.get(), NFTNL_SET_DATA_LEN) ? nftnl_set_get_u32(set.get(), NFTNL_SET_DATA_LEN) : 0;
        ns.layout = layout_of(nftnl_set_get_u32(set.get(), NFTNL_SET_KEY_TYPE), nftnl_set_get_u32(set.get(), NFTNL_SET_KEY_LEN),
                              data_len);
        t.sets[ns.name] = ns;
    }));
    // A set's elements come in many messages, and the kernel walks its hash
    // table afresh for each, skipping what the earlier ones held. While the
    // table is being resized (the kernel does it in the background after a
    // large insertion) that walk can skip elements: a large set read right
    // after topo added thousands to it came back short now and then. So a
    // large set is read until two reads agree.
    auto elements_of = [&](const std::string& sname, NftSet& ns) {
        std::set<std::string> out;
        checked("list elements", dump(s, NFT_MSG_GETSETELEM, [&](nlmsghdr* h) {
            auto* set = nftnl_set_alloc();
            nftnl_set_set_str(set, NFTNL_SET_TABLE, name.c_str());
            nftnl_set_set_str(set, NFTNL_SET_NAME, sname.c_str());
            nftnl_set_elems_nlmsg_build_payload(h, set);
            nftnl_set_free(set);
        }, [&](const nlmsghdr* h) {
            std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> set(nftnl_set_alloc(), nftnl_set_free);
            if (nftnl_set_elems_nlmsg_parse(h, set.get()) < 0) return;
            auto* it = nftnl_set_elems_iter_create(set.get());
            for (auto* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it)) {
                uint32_t klen = 0, dlen = 0;
                const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
                const void* d = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA) ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen) : nullptr;
                out.insert(decode_element(ns.layout, k, klen, d, dlen));
            }
            nftnl_set_elems_iter_destroy(it);
        }));
        return out;
    };
    for (auto& entry : t.sets) {
        // Named references, not structured bindings: clang 14 cannot capture those.
        const std::string& sname = entry.first;
        NftSet& ns = entry.second;
        auto got = elements_of(sname, ns);
        for (int tries = 0; got.size() > 2048; ++tries) {
            auto again = elements_of(sname, ns);
            if (again == got) break;
            if (tries == 20) throw KernelError(fmt::format("{}: set {} changed while it was read, 20 times", what, sname));
            got = std::move(again);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        ns.elements.insert(got.begin(), got.end());
    }
    checked("list rules", dump(s, NFT_MSG_GETRULE, [&](nlmsghdr* h) {
        auto* r = nftnl_rule_alloc();
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, name.c_str());
        nftnl_rule_nlmsg_build_payload(h, r);
        nftnl_rule_free(r);
    }, [&](const nlmsghdr* h) {
        std::unique_ptr<nftnl_rule, decltype(&nftnl_rule_free)> r(nftnl_rule_alloc(), nftnl_rule_free);
        if (nftnl_rule_nlmsg_parse(h, r.get()) < 0 || name != nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE)) return;
        NftRule rule;
        rule.chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
        rule.text = rule_text(r.get());
        t.rules.push_back(rule);
    }));
    return t;
}

std::vector<BaseChain> base_chains(Sockets& sockets) {
    Socket s(sockets, "nft base chains");
    std::vector<BaseChain> out;
    auto family_name = [](uint32_t f) -> std::string {
        switch (f) {
            case NFPROTO_INET: return "inet";
            case NFPROTO_IPV4: return "ip";
            case NFPROTO_IPV6: return "ip6";
            case NFPROTO_BRIDGE: return "bridge";
            case NFPROTO_NETDEV: return "netdev";
            case NFPROTO_ARP: return "arp";
        }
        return std::to_string(f);
    };
    int rc = dump(s, NFT_MSG_GETCHAIN, nullptr, [&](const nlmsghdr* h) {
        std::unique_ptr<nftnl_chain, decltype(&nftnl_chain_free)> c(nftnl_chain_alloc(), nftnl_chain_free);
        if (nftnl_chain_nlmsg_parse(h, c.get()) < 0 || !nftnl_chain_is_set(c.get(), NFTNL_CHAIN_HOOKNUM)) return;
        BaseChain b;
        b.family = family_name(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_FAMILY));
        b.table = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_TABLE);
        b.chain = nftnl_chain_get_str(c.get(), NFTNL_CHAIN_NAME);
        b.hook = hook_name(nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_HOOKNUM));
        b.priority = nftnl_chain_get_s32(c.get(), NFTNL_CHAIN_PRIO);
        b.policy = nftnl_chain_is_set(c.get(), NFTNL_CHAIN_POLICY) && nftnl_chain_get_u32(c.get(), NFTNL_CHAIN_POLICY) == NF_DROP ? "drop" : "accept";
        out.push_back(std::move(b));
    }, NFPROTO_UNSPEC);
    if (rc < 0) throw KernelError(fmt::format("nft: list chains: {}", std::strerror(-rc)));
    rc = dump(s, NFT_MSG_GETRULE, nullptr, [&](const nlmsghdr* h) {
        std::unique_ptr<nftnl_rule, decltype(&nftnl_rule_free)> r(nftnl_rule_alloc(), nftnl_rule_free);
        if (nftnl_rule_nlmsg_parse(h, r.get()) < 0) return;
        std::string table = nftnl_rule_get_str(r.get(), NFTNL_RULE_TABLE), chain = nftnl_rule_get_str(r.get(), NFTNL_RULE_CHAIN);
        auto fam = family_name(nftnl_rule_get_u32(r.get(), NFTNL_RULE_FAMILY));
        for (auto& b : out)
            if (b.family == fam && b.table == table && b.chain == chain) ++b.rules;
    }, NFPROTO_UNSPEC);
    if (rc < 0) throw KernelError(fmt::format("nft: list rules: {}", std::strerror(-rc)));
    return out;
}

void Sockets::close() {
    for (auto* s : open_) mnl_socket_close(s);
    open_.clear();
}

void Sockets::release_after_exit() {
    if (!committed_ || open_.empty()) return;
    std::vector<int> keep;  // ascending, computed before fork: the child only makes system calls
    for (auto* s : open_) keep.push_back(mnl_socket_get_fd(s));
    int exited[2];
    if (::pipe2(exited, O_CLOEXEC) != 0) return;
    keep.push_back(exited[0]);
    std::sort(keep.begin(), keep.end());
    pid_t pid = ::fork();
    if (pid == 0) {
        unsigned from = 0;
        for (int fd : keep) {
            if (unsigned(fd) > from) ::close_range(from, unsigned(fd) - 1, 0);
            from = unsigned(fd) + 1;
        }
        ::close_range(from, ~0u, 0);
        char c;
        while (::read(exited[0], &c, 1) < 0 && errno == EINTR) {
        }
        ::_exit(0);  // the sockets' last release, and its wait, happen here
    }
    ::close(exited[0]);
    if (pid < 0) return;  // this process releases them itself
    for (int fd : keep)
        if (fd != exited[0]) ::close(fd);  // not the last reference: the child has one
    open_.clear();
    // exited[1] is closed by this process's exit: the child's read ends then.
}

}  // namespace topo::nft
