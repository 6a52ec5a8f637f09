// The kernel interface: the only way the reconciler sees or changes the host.
//
// Three implementations (after ninja's CommandRunner):
//   - RealKernel (kernel/real.hpp): netlink through libnl, nftables through
//     libnftnl, files on disk: in-process, no `ip` or `nft` spawned.
//   - FakeKernel (kernel/fake.hpp): an in-memory HostState that changes when
//     changes are applied, with failure injection, for unit tests.
//   - DryRunKernel (kernel/fake.hpp): reads through another kernel and
//     records changes instead of making them, for unit tests. (`topo plan`
//     and `apply --dry-run` need none: they stop before `execute`.)
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/change.hpp"
#include "model/objects.hpp"
#include "model/read_scope.hpp"

namespace topo {

// A refusal by the kernel, with the object it concerned:
// "veth tv51c0de0a2b: move to netns shop-web: File exists".
class KernelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// A process whose network namespace is a sandbox's: it keeps the namespace
// alive after topo unmounts it, so topo removes the sandbox's links itself.
struct Process {
    int pid = 0;
    std::string command;  // its command line, shortened
    uint64_t netns = 0;   // the namespace's inode, to refuse a pid reused since
};

// What a bridge that topo did not make holds (an external network): its own
// addresses, the neighbours it has seen, and its ports' markers.
struct BridgeFacts {
    std::vector<Prefix> addresses;
    std::vector<IpAddr> neighbours;
    struct Port {
        std::string name, marker;  // marker: its ifalias, "" for one without
    };
    std::vector<Port> ports;
};

// A socket of the host namespace bound to a port (a TCP listener, a bound
// UDP socket): a published port on it would take its traffic.
struct Listener {
    std::string protocol;  // "tcp" or "udp"
    IpAddr address;        // unspecified: every address
    uint16_t port = 0;
};

class Kernel {
public:
    virtual ~Kernel() = default;
    virtual HostState read(const ReadScope& scope) = 0;
    // A read of the whole host (no only_host_links) comes next: a kernel may
    // begin on its part of it now, while the caller works out what it wants.
    virtual void prepare_read() {}
    // Carry out one change. Throws KernelError; a failed change leaves nothing half-made.
    virtual void apply(const Change& change) = 0;
    // Destination prefixes of the host namespace's routes that are not topo's
    // (default routes excluded): IPAM avoids them, validation checks overlaps.
    virtual std::vector<Prefix> host_routes() = 0;
    // Projects that have objects on this host, found by marker (for `ls`, destroy).
    virtual std::vector<std::string> projects() = 0;
    // Wait for what the kernel finishes on its own after the changes made so far
    // (a deleted namespace's links go in a batched, asynchronous cleanup).
    virtual void settle() {}
    // The processes running in these sandboxes, by sandbox (none: absent).
    virtual std::map<std::string, std::vector<Process>> processes(const std::vector<std::string>& sandboxes) = 0;
    // Send `signal` to a process that processes() found, if it is still that
    // process in that namespace. Throws KernelError.
    virtual void signal(const Process& p, int signal) = 0;
    // A host bridge's facts; nullopt when there is no such bridge.
    virtual std::optional<BridgeFacts> bridge_facts(const std::string& name) = 0;
    // Whether something on the bridge answers for `a` (IPv4: an RFC 5227 ARP
    // probe), before topo hands the address to a sandbox on a shared bridge.
    virtual bool address_in_use(const std::string& bridge, const IpAddr& a) = 0;
    // The host namespace's listeners.
    virtual std::vector<Listener> listeners() = 0;
};

}  // namespace topo
