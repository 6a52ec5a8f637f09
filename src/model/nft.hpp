// topo's nftables table, as a value: chains, rules and sets/maps.
//
// Rules use a small fixed vocabulary (NftOp) rather than a general nft AST:
// it is all topo writes. Every rule carries `text`, its canonical
// description, which the kernel layer stores in the rule's userdata; reading
// the table back yields the same texts, so comparing desired and live rules
// is comparing strings, and a rule topo did not write (no or foreign text)
// shows up as a difference. Set and map elements are compared one by one, so
// changing one published port changes one element.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "model/ip.hpp"

namespace topo {

// Slots of a replicated port's map: a new connection takes slot `numgen inc
// mod replica_slots`, and replica i (of N) holds the slots s with s mod N ==
// i - 1, so N changes elements, never the rule. 240 divides evenly by 2-6,
// 8, 10, 12, 15, 16, 20, 24, 30, ...; a service with published ports has at
// most this many replicas.
inline constexpr int replica_slots = 240;

struct NftChain {
    std::string name;
    std::string type;  // filter | nat
    std::string hook;  // prerouting | output | postrouting | forward
    int priority = 0;
    auto operator<=>(const NftChain&) const = default;
};

enum class NftOp {
    AcceptEstablished,   // ct state established,related accept
    AcceptDnat,          // ct status dnat accept
    AcceptWithin,        // iifname <ifname> oifname <ifname> accept
    DropFromSetToPrefix, // iifname @set oifname "<prefix>*" drop
    DropFromPrefixToSet, // iifname "<prefix>*" oifname @set drop
    DropIn,              // iifname <ifname> drop
    DropOut,             // oifname <ifname> drop
    DnatPorts,           // fib daddr type local dnat to l4proto . dport map @set
    DnatHostPorts,       // dnat to daddr . l4proto . dport map @set
    Masquerade,          // saddr <subnet> oifname != <ifname> masquerade
    MasqueradeLoopback,  // saddr 127.0.0.0/8 ct status dnat masquerade
    MasqueradeHairpin,   // oifname <ifname> saddr <subnet> ct status dnat masquerade
    DropWithin,          // iifname <ifname> oifname <ifname> drop (enable_icc: false)
    // A replicated service's ports: the slot of a new connection is
    // `numgen inc mod replica_slots`, and the map holds every slot.
    DnatBalanced,        // fib daddr type local dnat to l4proto . dport . numgen inc mod K map @set
    DnatHostBalanced,    // dnat to daddr . l4proto . dport . numgen inc mod K map @set
};

struct NftRule {
    std::string chain;
    std::string text;  // identity, stored in the rule's userdata
    // How to build it (unused on rules read back from the kernel):
    NftOp op = NftOp::AcceptEstablished;
    int family = 4;  // 4 or 6, for rules that look at addresses (and DNAT maps)
    std::string ifname;
    std::optional<Prefix> subnet;
    std::string set;
};

enum class NftLayout {
    Ifnames,          // "tb3f09a1c2e4"
    ProtoPortToAddr,  // "tcp 8080 10.0.42.130 80": l4proto . port → ipv4 . port
    AddrProtoPortToAddr,  // "127.0.0.1 tcp 9090 10.0.42.130 90"
    ProtoPortToAddr6,     // "tcp 8080 fd00::2 80": l4proto . port → ipv6 . port
    AddrProtoPortToAddr6, // "2001:db8::1 tcp 8080 fd00::2 80"
    // The same keyed by a slot too (a replicated port, "tcp 8080/17 10.0.42.130 80").
    ProtoPortSlotToAddr,
    AddrProtoPortSlotToAddr,
    ProtoPortSlotToAddr6,
    AddrProtoPortSlotToAddr6,
};

// One published port as an element of the port maps, "[host_ip ]proto port
// address target" ("tcp 8080 10.0.42.130 80"): written by the firewall
// builder, encoded into the kernel's key and data by kernel/nft_build.cpp,
// and read back by the checks that look at ports. parse() refuses anything
// else (a protocol other than tcp, udp or sctp, a port of 0 or past 65535).
struct PortElement {
    std::optional<IpAddr> host_ip;  // set: keyed by the host's address too (the hostports maps)
    std::string protocol;           // tcp | udp | sctp
    uint16_t port = 0;              // on the host
    IpAddr address;                 // the sandbox's
    uint16_t target = 0;            // in the sandbox
    std::optional<uint16_t> slot;   // set: a replicated port's slot (written "8080/17")
    std::string str() const;
    static std::optional<PortElement> parse(std::string_view text);
};

struct NftSet {
    std::string name;
    NftLayout layout = NftLayout::Ifnames;
    std::set<std::string> elements;
};

struct NftTable {
    std::string name;  // topo-<project>
    std::string family = "inet";
    // The table's comment (its userdata, as `nft` writes `comment "..."`):
    // the project's marker. Read as empty when it is not this project's: a
    // table that only has topo's name is not topo's, and is never changed.
    std::string owner;
    std::vector<NftChain> chains;
    std::vector<NftRule> rules;
    std::map<std::string, NftSet> sets;

    // Everything but set elements, as comparable text: when only elements
    // differ, an update touches just those elements.
    std::string skeleton() const;
};

// Element-level difference of one set.
struct NftElementDiff {
    std::string set;
    std::vector<std::string> add, remove;
};
std::vector<NftElementDiff> element_diff(const NftTable& desired, const NftTable& live);

const char* to_string(NftLayout l);
const char* to_string(NftOp op);

}  // namespace topo
