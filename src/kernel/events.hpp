// What the kernel says changed, for `topo watch`: link, address and route
// changes in the host namespace and in every sandbox, on one route-netlink
// socket (NETLINK_LISTEN_ALL_NSID: a message from another namespace carries
// the id the host namespace gives it), and nftables changes on a netfilter
// socket. The watch turns them into the part of the host to read again.
//
// The kernel sends another namespace's messages only to a listener whose
// namespace has an id for it: watch() gives a sandbox one when it has none
// (what `ip netns set NAME auto` does).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kernel/kernel.hpp"

namespace topo {

class KernelEvents : public EventSource {
public:
    KernelEvents();  // throws KernelError
    ~KernelEvents() override;
    KernelEvents(const KernelEvents&) = delete;
    KernelEvents& operator=(const KernelEvents&) = delete;

    std::vector<int> fds() const override { return {rt_, nf_}; }
    // Everything queued, without waiting. A socket that overflowed (the
    // kernel dropped messages) yields one Overflow: read everything again.
    std::vector<KernelEvent> drain() override;
    // The id of a named namespace in the host's, given one if it has none;
    // unset when the namespace is not there.
    std::optional<int> watch(const std::string& netns) override;
    std::map<int, std::string> host_links() override;

private:
    int rt_ = -1, nf_ = -1, query_ = -1;
};

}  // namespace topo
