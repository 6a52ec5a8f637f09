// RealKernel: the host's kernel through netlink (libnl-route) and files,
// in-process. One netlink socket per namespace, opened inside it and kept for
// the run (a socket stays bound to the namespace it was created in).
//
// What is whose (model/naming.hpp): a sandbox namespace is topo's when its
// `lo` carries the project's marker; everything inside it is then topo's. A
// host link is topo's when its ifalias carries the marker, or — for the
// instant between creating a link and marking it, which a crash can expose —
// when its name has the project's generated prefix (t<kind><hash>) and its
// MAC is the one topo gives a link of that name (naming::link_mac).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kernel/kernel.hpp"
#include "kernel/nft.hpp"
#include "kernel/nl.hpp"

namespace topo {

struct Prefetch;  // a whole read begun ahead (kernel/read.cpp)

class RealKernel : public Kernel {
public:
    // `nft`: the machine's netfilter sockets, which outlive this kernel.
    explicit RealKernel(nft::Sockets& nft);
    ~RealKernel() override;
    nft::Sockets& nft_sockets() const { return nft_; }

    Observation observe(const ReadScope& scope) override;
    // Begins the next whole read's dumps of the host namespace on a thread of
    // their own (kernel/read.cpp): at 1000 sandboxes the link dump is ~18 ms
    // of kernel time, mostly filling in each veth's peer namespace id.
    void prepare_read() override;
    std::shared_ptr<Prefetch> prefetch;  // what prepare_read() began, for read()
    void apply(const Change& change) override;
    std::vector<Prefix> host_routes() override;
    std::vector<IpAddr> local_addresses() override;
    std::optional<uint32_t> underlay_mtu(const std::string& device, const std::vector<IpAddr>& peers) override;
    std::string cannot_encrypt() override;  // kernel/xfrm.cpp
    std::vector<std::string> projects() override;
    void settle() override;
    void implied(const Change& c) override;
    void defer_waits() override { defer_waits_ = true; }
    std::map<std::string, std::vector<Process>> processes(const std::vector<std::string>& sandboxes) override;
    void signal(const Process& p, int signal) override;
    std::optional<BridgeFacts> bridge_facts(const std::string& name) override;
    bool address_in_use(const std::string& bridge, const IpAddr& a) override;
    std::vector<Listener> listeners() override;
    std::vector<VxlanInUse> vxlans() override;
    std::vector<ProbeOutcome> probe(const ProbeRun& run) override;  // kernel/probe.cpp
    std::vector<BaseChain> base_chains() override;

    // The route socket of a namespace ("" = the one topo started in).
    nl_sock* sock(const std::string& ns);
    // The socket already open for `ns`, or nullptr (the reader's threads
    // open sandboxes' sockets themselves when there is none).
    nl_sock* cached_sock(const std::string& ns) const;
    int ifindex(const std::string& ns, const std::string& name, const std::string& what);
    // The same for a host device that a run writes many entries on (a VXLAN
    // device: thousands of forwarding entries), asked once until a link
    // changes.
    int device_index(const std::string& name, const std::string& what);

    // The host end of a veth whose sandbox end's namespace was deleted, with its marker.
    struct Dying {
        int ifindex;
        std::string marker;
    };

private:
    nft::Sockets& nft_;
    std::map<std::string, nl::Sock> socks_;
    std::vector<Dying> dying_;
    // Host ends being deleted on threads of their own (settle()), joined
    // before the next settle() and at the end.
    std::vector<std::thread> deleting_;
    bool defer_waits_ = false;
    // What the plan says goes with a namespace (implied()): the host ends of
    // its veths, and whether it has links that must be deleted first (a
    // macvlan).
    struct Going {
        std::vector<Dying> host_ends;
        bool look_inside = false;
    };
    std::map<std::string, Going> going_;
    std::optional<std::set<uint64_t>> held_;  // namespaces (inodes) that processes are in
    std::optional<std::string> encryption_;   // what cannot_encrypt() found
    std::map<std::string, int> devices_;      // device_index()'s, forgotten when a link changes
    bool held(const std::string& ns);
    // The host ends of the veths of a namespace that goes, into dying_, and
    // its macvlans deleted (all its links when a process holds it).
    void take_links(const std::string& ns);
    void apply_netns(const Change& c);
    void forget(const std::string& ns) { socks_.erase(ns); }
};

// Per object kind (kernel/link.cpp; addresses, routes and sysctls in kernel/address.cpp).
void link_create(RealKernel& k, const Link& l);
void link_update(RealKernel& k, const Link& want, const Link& have);
void link_delete(RealKernel& k, const Link& l);
void address_apply(RealKernel& k, const Address& a, bool add);
void route_apply(RealKernel& k, const Route& r, bool add);
void sysctl_write(RealKernel& k, const Sysctl& s);
// A VXLAN device's static entries (kernel/neigh.cpp).
void fdb_apply(RealKernel& k, const Fdb& f, bool add);
void neigh_apply(RealKernel& k, const Neigh& n, bool add);
std::string sysctl_read(RealKernel& k, const std::string& ns, const std::string& key);
// The kernel's own object for a link (what rtnl_link_change wants as `orig`).
nl::LinkPtr kernel_link(nl_sock* sock, const std::string& name, const std::string& what);
// Set the ifalias (topo's marker) of a link, and bring it up if asked, in one request.
void set_marker(nl_sock* sock, const std::string& name, const std::string& marker, const std::string& what,
                bool up = false);

// Reading links, addresses and routes (kernel/dump.cpp): dumps on a socket's
// descriptor (nl_socket_get_fd of a libnl socket, or a RouteSocket), parsed
// into plain values. `what` names the namespace in errors.
class RouteSocket {  // a plain route-netlink socket in the calling thread's namespace
public:
    RouteSocket();
    ~RouteSocket();
    RouteSocket(const RouteSocket&) = delete;
    RouteSocket& operator=(const RouteSocket&) = delete;
    int fd() const { return fd_; }

private:
    int fd_;
};

// The links of a namespace as one dump reports them.
class LinkDump {
public:
    struct Entry {
        int ifindex = 0;
        unsigned flags = 0;  // IFF_*
        std::string name, alias, kind;
        uint32_t mtu = 0;
        std::optional<Mac> mac;
        int master = 0;  // ifindex in the same namespace
        int link = 0;    // a veth's other end, a macvlan's parent, a VXLAN's underlay: ifindex in its namespace
        // The kind's own attributes (kernel/links.hpp).
        std::string macvlan_mode;  // "bridge", "private", …
        std::optional<Vxlan> vxlan;
        bool vxlan_external = false;  // IFLA_VXLAN_COLLECT_METADATA: every VNI of its port
        uint8_t vxlan_family = 4;     // 6: an IPv6 local or group address
        std::optional<bool> isolated;          // a bridge port's flag (absent: not reported)
        std::optional<bool> port_learning;     // a bridge port's flag
        // IPv6 is on: the link has an IPv6 configuration without disable_ipv6.
        // Off, the kernel holds no IPv6 address or route on it, and refuses
        // to add one (EACCES).
        bool ipv6 = false;
    };
    std::vector<Entry> links;

    void add(Entry e);
    const Entry* find(int ifindex) const;
    const Entry* find(std::string_view name) const;
    std::string name(int ifindex) const;  // "" when there is none

private:
    std::unordered_map<int, size_t> by_index_;
};
LinkDump dump_links(int fd, const std::string& what);
// One link by name or by index, added to `into`; absent links are skipped.
void get_link(int fd, const std::string& name, int ifindex, LinkDump& into, const std::string& what);

struct AddrEntry {
    int ifindex;
    Prefix prefix;
};
// Which address families a dump asks for.
enum class Families { Both, V4 };
std::vector<AddrEntry> dump_addresses(int fd, const std::string& what, Families families = Families::Both);
// Strict checking (Linux 4.20): the kernel then filters dumps by the fields
// set in the request's header. False when the kernel has none.
bool strict_checking(int fd);
// One link's addresses: on a socket with strict checking only.
std::vector<AddrEntry> dump_addresses_of(int fd, int ifindex, const std::string& what);

struct RouteEntry {
    uint32_t table = 0;
    uint8_t protocol = 0;  // RTPROT_*
    Prefix dst;
    std::optional<IpAddr> gateway;
    int oif = 0;
};
std::vector<RouteEntry> dump_routes(int fd, const std::string& what);  // IPv4, then IPv6
// The route the kernel would take to `to` (`ip route get`); none when unreachable.
std::optional<RouteEntry> route_to(int fd, const IpAddr& to);
// The main table's routes (topo's static ones, the kernel's subnet routes),
// filtered by the kernel on a socket with strict checking, by the caller
// otherwise.
std::vector<RouteEntry> dump_main_routes(int fd, Families families, bool strict, const std::string& what, bool kernel_too);
// The static forwarding entries (family AF_BRIDGE) or permanent neighbour
// entries (AF_INET, AF_INET6) of one device, as `dev`'s name.
struct NeighEntry {
    Mac mac;
    std::optional<IpAddr> ip;  // a forwarding entry's destination (none: the bridge's), a neighbour's address
};
std::vector<NeighEntry> dump_neighbours(int fd, int family, int ifindex, bool strict, const std::string& what);
// One entry asked for (the few a change names, of a device with thousands):
// a forwarding entry of `mac`, the device's own (with its destination) or,
// with `master`, its bridge's on this port; a permanent neighbour entry of `ip`.
std::optional<NeighEntry> get_forwarding(int fd, int ifindex, const Mac& mac, bool master, const std::string& what);
std::optional<NeighEntry> get_neighbour(int fd, int ifindex, const IpAddr& ip, const std::string& what);
// The id the socket's namespace gives the namespace open as `netns_fd`
// (what NETLINK_LISTEN_ALL_NSID messages carry); with `assign`, one is
// given if it has none.
std::optional<int> netns_id(int fd, int netns_fd, bool assign, const std::string& what);

// Setting a bridge port's flag (IFLA_BRPORT_ISOLATED, IFLA_BRPORT_LEARNING),
// by name (kernel/link.cpp).
void set_port_flag(nl_sock* sock, const std::string& name, int flag, bool on, const std::string& what);

// Reading (kernel/read.cpp).
Observation observe_host(RealKernel& k, const ReadScope& scope);

}  // namespace topo
