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
#include "model/observation.hpp"
#include "model/probe.hpp"
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

// A VXLAN device of the host namespace, whoever's. The kernel allows one
// device per VNI on a UDP port, and a device that receives every VNI of
// its port (external: collect_metadata) leaves none to others.
struct VxlanInUse {
    std::string name;
    std::string marker;           // its alias: topo's marker, or anything
    std::optional<uint32_t> vni;  // none: external
    uint16_t port = 4789;
    uint8_t family = 4;  // of its socket: 6 with an IPv6 local or group address (one of each may share a VNI)
    uint32_t mtu = 0;
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
    // What the host holds that a read of `scope` may return, as it is
    // (model/observation.hpp); `read` is that, judged by the rules every
    // kernel shares.
    virtual Observation observe(const ReadScope& scope) = 0;
    HostState read(const ReadScope& scope) { return judge(observe(scope), scope); }
    // A read of the whole host (no only_host_links) comes next: a kernel may
    // begin on its part of it now, while the caller works out what it wants.
    virtual void prepare_read() {}
    // Carry out one change. Throws KernelError; a failed change leaves nothing half-made.
    virtual void apply(const Change& change) = 0;
    // Destination prefixes of the host namespace's routes that are not topo's
    // (default routes excluded): IPAM avoids them, validation checks overlaps.
    virtual std::vector<Prefix> host_routes() = 0;
    // The host namespace's own addresses: which host of a manifest's
    // `hosts` this is, when --host does not say.
    virtual std::vector<IpAddr> local_addresses() = 0;
    // The MTU of an overlay's underlay: `device`'s, or (unnamed) the lowest
    // of the devices the host routes its `peers` through; none when neither
    // says (no peers, no route).
    virtual std::optional<uint32_t> underlay_mtu(const std::string& device, const std::vector<IpAddr>& peers) = 0;
    // Why this kernel cannot encrypt an overlay (ESP through xfrm), naming
    // the missing feature; "" when it can.
    virtual std::string cannot_encrypt() = 0;
    // Projects that have objects on this host, found by marker (for `ls`, destroy).
    virtual std::vector<std::string> projects() = 0;
    // Wait for what the kernel finishes on its own after the changes made so far
    // (a deleted namespace's links go in a batched, asynchronous cleanup).
    virtual void settle() {}
    // Said by a caller that reports its run before it closes the kernel (a
    // watch logs the run first): what a thread can wait out for settle() (a
    // leaving veth's deletion, answered after an RCU barrier) is waited for
    // at the close instead. A one-shot command, which exits at the close,
    // would only wait longer: the kernel's own cleanup is left to do it.
    virtual void defer_waits() {}
    // A deletion the kernel carries out with another (a sandbox's veth with
    // its namespace), told before that one: what will go, known without
    // looking inside the namespace (kernel/real.cpp says why that matters).
    virtual void implied(const Change&) {}
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
    // The host namespace's VXLAN devices (any one's).
    virtual std::vector<VxlanInUse> vxlans() = 0;
    // `topo probe`: starts the listeners, makes every attempt at once (each
    // with the run's timeout), closes the listeners; an outcome per probe.
    virtual std::vector<ProbeOutcome> probe(const ProbeRun& run) = 0;
    // The base chains of every nftables table (topo's too).
    virtual std::vector<BaseChain> base_chains() = 0;
};

// What the kernel says changed, for `topo watch` (the real source is
// kernel/events.hpp): a link, an address, a route, a static forwarding or
// neighbour entry (of the kind a VXLAN device of topo's holds), the
// nftables table.
struct KernelEvent {
    enum class What { Link, Address, Route, Neigh, Nft, Overflow };
    What what = What::Link;
    std::optional<int> nsid;  // unset: the host namespace
    int ifindex = 0;          // link, address, route (its output link), entry (its device)
    std::string name;         // link: its name; nft: the table's
    bool removed = false;     // a link deleted
    // An entry's own identity, when the message carries it: a forwarding
    // entry's MAC, a neighbour entry's address (drift of one entry is one
    // entry read again, not a device's thousands).
    std::optional<Mac> mac;
    std::optional<IpAddr> ip;
};

class EventSource {
public:
    virtual ~EventSource() = default;
    virtual std::vector<int> fds() const = 0;  // to poll for input
    // Everything queued, without waiting. A source that overflowed (the
    // kernel dropped messages) yields one Overflow: read everything again.
    virtual std::vector<KernelEvent> drain() = 0;
    // The id of a named namespace in the host's, given one if it has none;
    // unset when the namespace is not there.
    virtual std::optional<int> watch(const std::string& netns) = 0;
    // The host namespace's links by ifindex, to name what an event gives
    // only the index of (an address's, a route's link).
    virtual std::map<int, std::string> host_links() = 0;
};

// The machine as the CLI opens it (`Machine`: `Host` is a manifest's
// entry of `hosts`), and all the CLI sees of the kernel layer
// besides the interfaces above: a kernel for a run, the events for a
// watch, and the ends of a run and of the process (the real host closes its
// netfilter sockets then; kernel/nft.hpp says why they stay open till then).
class Machine {
public:
    virtual ~Machine() = default;
    virtual std::unique_ptr<Kernel> kernel() = 0;
    virtual std::unique_ptr<EventSource> events() = 0;  // throws KernelError
    virtual void run_done() {}
    virtual void exiting() {}
    // The directory of named namespaces (/run/netns), made when missing, for
    // the watch to see sandboxes deleted.
    virtual std::string netns_dir() = 0;
};

}  // namespace topo
