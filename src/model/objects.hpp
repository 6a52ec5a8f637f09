// Kernel objects as plain values: the desired state and the live state are
// both a HostState, so diffing them is comparing two values.
//
// Rules (after libnl's ce_mask): optional fields left unset in a desired object
// are not compared with the kernel's value, so topo never fights kernel
// defaults. Identity is the object's kind and id (names, never an ifindex).
// `owner` is topo's ownership marker ("topo/<project>/..."): set on every
// object topo creates, empty on foreign objects that are only referenced
// (an external bridge, a macvlan parent), which topo never changes.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "model/ip.hpp"
#include "model/nft.hpp"
#include "model/text.hpp"

namespace topo {

enum class Kind {
    Netns,
    Bridge,
    Vxlan,
    Veth,
    Macvlan,
    Address,
    Route,
    Fdb,
    Neigh,
    Sysctl,
    NftTable,
    File,
};
const char* to_string(Kind k);  // "netns", "bridge", ... as in the JSON plan

// A named network namespace under /run/netns: one sandbox.
struct Netns {
    std::string name;
    std::string owner;  // marker, stored as the ifalias of the sandbox's `lo`
};

enum class LinkKind { Bridge, Veth, Macvlan, Vxlan };

// A macvlan link's own attributes: its parent in the host namespace (the
// link itself lives in its sandbox, or in the host for `host_access`) and
// its mode.
struct Macvlan {
    std::string parent;
    std::string mode;  // "bridge", "private", "vepa", "passthru"
    auto operator<=>(const Macvlan&) const = default;
};

// A VXLAN device's own attributes (kernel/link_vxlan.cpp). It forwards by
// static entries only (Fdb, Neigh below): it learns nothing from what it
// receives, and answers ARP and neighbour solicitations from its neighbour
// entries itself (the driver's proxy), dropping those it cannot answer, so
// no ARP crosses the underlay.
struct Vxlan {
    uint32_t vni = 0;
    uint16_t dstport = 4789;
    std::optional<IpAddr> local;  // the tunnel's source: this host's address in `hosts`
    std::string underlay;         // the device carrying it; "" = unset: the kernel routes
    bool learning = false;
    bool proxy = true;
    auto operator<=>(const Vxlan&) const = default;
};

// A veth's other end (kernel/link_veth.cpp): created directly in its
// namespace with the link, so the pair is one object, keyed by its host end.
// (A sandbox's end, as read before the ends are paired, names the host end:
// `name` only, in the host namespace; model/observation.hpp.)
struct Veth {
    std::string ns;  // the other end's namespace (the sandbox)
    std::string name;
    std::optional<Mac> mac;
    std::string owner;
    // The sandbox end keeps IPv6 (its link-local address, DAD, router and
    // multicast listener messages). Off on a network without IPv6, as Docker
    // does: 1000 sandboxes' messages flooded over one bridge cost the host
    // real time. Set at creation, not compared; an IPv6 address added later
    // turns it back on.
    bool ipv6 = true;
    // The sandbox end is up (read back; set up again where it is not).
    bool up = true;
    auto operator<=>(const Veth&) const = default;
};

struct Link {
    LinkKind kind = LinkKind::Bridge;
    std::string ns;  // "" = the host namespace
    std::string name;
    std::string owner;  // ifalias marker; empty = not topo's (never changed)
    std::optional<uint32_t> mtu;
    std::optional<Mac> mac;
    std::string master;  // bridge in the same namespace; "" = none
    // Bridge port flag IFLA_BRPORT_ISOLATED: isolated ports of one bridge
    // cannot reach each other, only the bridge and non-isolated ports.
    std::optional<bool> isolated;
    // Bridge port flag IFLA_BRPORT_LEARNING: off on an overlay's VXLAN port,
    // whose bridge knows the remote sandboxes from static entries (Fdb) and
    // must not learn one there, to keep it after it moved to this host.
    std::optional<bool> port_learning;
    bool up = true;
    // veth: set on a veth link only (on a live one, only when its other end
    // was read with it: not on a foreign veth)
    std::optional<Veth> peer;
    // The same for the link itself (Veth::ipv6 is its other end's): off on an
    // overlay's bridge and VXLAN device without IPv6, whose own link-local,
    // DAD, router and listener messages would cross the underlay to every
    // other host. A VXLAN device of an overlay with IPv6 keeps it (its IPv6
    // neighbour entries and the driver's ND proxy need it) with no address
    // of its own (kernel/link_vxlan.cpp), so it stays as quiet.
    bool ipv6 = true;
    // macvlan: set on a macvlan link only
    std::optional<Macvlan> macvlan;
    // vxlan: set on a VXLAN link only, and compared only when the desired link has it
    std::optional<Vxlan> vxlan;
    // live only, never compared
    int ifindex = 0;
};

// An address on a link (identity: namespace, link, prefix).
struct Address {
    std::string ns;
    std::string link;
    Prefix prefix;
    // The kernel's route to the address's subnet, made with the address, is
    // there (read in sandboxes): false when it was deleted (`ip route
    // flush`), and then the address is made again, which makes it again.
    bool subnet_route = true;
};

// A route in a sandbox (topo adds routes only in namespaces it owns).
struct Route {
    std::string ns;
    Prefix dst;  // 0.0.0.0/0 or ::/0 for a default route
    std::optional<IpAddr> gateway;
    std::string dev;
};

// A static forwarding entry on a VXLAN device. With `dst`, the device's
// own (`bridge fdb append MAC dev X dst IP self permanent`): frames for
// `mac` go through the tunnel to `dst`; an all-zero MAC is the default
// entry, for broadcast and unknown unicast, one per remote host. Without,
// its bridge's (`bridge fdb add MAC dev X master static`): frames for `mac`
// go to this port. topo's because the device is.
struct Fdb {
    std::string dev;  // host namespace
    Mac mac;
    std::optional<IpAddr> dst;
};

// A permanent neighbour entry (`ip neigh ... nud permanent`) on a VXLAN
// device, which its ARP/ND proxy answers from. topo's because the device is.
struct Neigh {
    std::string dev;  // host namespace
    IpAddr ip;
    Mac mac;
};

struct Sysctl {
    std::string ns;
    std::string key;  // e.g. net/ipv4/ip_forward
    std::string value;
};

// A file topo writes (hosts, resolv.conf). Content is compared exactly.
struct File {
    File() = default;
    File(std::string p, Text c, std::string l = {}, std::string o = {})
        : path(std::move(p)), content(std::move(c)), link(std::move(l)), owner(std::move(o)) {}
    std::string path;
    Text content;  // shared slices: N hosts files share their peers' lines
    // Set: the file is a symbolic link to this path (relative to its own
    // directory), and has no content of its own. A sandbox on one network
    // links its hosts file to the network's (reconcile/names.hpp).
    std::string link;
    // The project's marker when the file is topo's: its first line is
    // naming::file_marker, or it links into the project's shared files.
    // Empty: somebody else's, never changed.
    std::string owner;
};

using Object = std::variant<Netns, Link, Address, Route, Fdb, Neigh, Sysctl, File, NftTable>;

Kind kind_of(const Object& o);
std::string id_of(const Object& o);
// A short human description of the fields that matter ("10.0.42.1/24 master tb...").
std::string describe(const Object& o);

// The namespace an object lives in ("" = host), and the "ns:link" an address
// or route sits on ("" for other kinds).
const std::string& namespace_of(const Object& o);  // "" for the host's
std::string link_under(const Object& o);

struct ObjectKey {
    Kind kind;
    std::string id;
    auto operator<=>(const ObjectKey&) const = default;
};
ObjectKey key_of(const Object& o);

// The state of one project on one host: desired (from the manifest) or live
// (read from the kernel). Live state also carries referenced foreign objects.
struct HostState {
    std::map<ObjectKey, Object> objects;
    // What the read found in topo's way that is not an object of its own (a
    // directory of somebody else's where topo would write): refused as conflicts.
    std::vector<std::string> conflicts;

    void add(Object o);
    const Object* find(const ObjectKey& k) const;
    template <class T> const T* find_as(Kind k, const std::string& id) const {
        auto* o = find(ObjectKey{k, id});
        return o ? std::get_if<T>(o) : nullptr;
    }
};

}  // namespace topo
