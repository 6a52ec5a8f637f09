// Small RAII wrappers over libnl objects, and errors with context.
#pragma once

#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <net/if.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include "kernel/kernel.hpp"

namespace topo::nl {

struct SockFree { void operator()(nl_sock* s) const { nl_socket_free(s); } };
struct CacheFree { void operator()(nl_cache* c) const { nl_cache_free(c); } };
struct LinkFree { void operator()(rtnl_link* l) const { rtnl_link_put(l); } };
struct ObjectPut { void operator()(nl_object* o) const { nl_object_put(o); } };

using Sock = std::unique_ptr<nl_sock, SockFree>;
using Cache = std::unique_ptr<nl_cache, CacheFree>;
using LinkPtr = std::unique_ptr<rtnl_link, LinkFree>;

// "veth tv51c0de0a2b: create: File exists" from a libnl error code.
[[noreturn]] void fail(const std::string& what, const char* step, int nl_err);
// Same from errno.
[[noreturn]] void fail_errno(const std::string& what, const char* step);
// libnl error code → is it "already gone"? (for idempotent deletes)
bool is_gone(int nl_err);

// A netlink attribute's value: a string (not always NUL-terminated), an
// address of `family` (AF_INET, AF_INET6) when its length is that family's.
std::string string_of(nlattr* a);
std::optional<IpAddr> ip_of(nlattr* a, int family);

// Runs `dump` (which returns a libnl error code) until the kernel's answer is
// whole: a dump marked interrupted (objects changed while it ran) is
// incomplete and is run again, as libnl's cache refill does; five tries.
template <class F>
void whole_dump(const std::string& what, const char* step, F dump) {
    for (int attempt = 0;; ++attempt) {
        int err = dump();
        if (err >= 0) return;
        if (err != -NLE_DUMP_INTR || attempt == 4) fail(what, step, err);
    }
}

// A non-blocking netlink socket of `protocol` that hears `groups`, with a
// receive buffer of `buffer` bytes (past rmem_max, as root may). Throws
// KernelError.
int subscribed(int protocol, std::initializer_list<int> groups, int buffer);

// A route socket connected in the calling thread's current network namespace;
// `big`: with room for the host namespace's large dumps.
Sock connect_route(bool big = true);

}  // namespace topo::nl
