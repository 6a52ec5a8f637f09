// The nftables table as a value (model/nft.hpp): its skeleton as text, and the
// element-level difference of two tables' sets.
#include "model/nft.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <vector>

namespace topo {

std::string PortElement::str() const {
    auto el = slot ? fmt::format("{} {}/{} {} {}", protocol, port, *slot, address.str(), target)
                   : fmt::format("{} {} {} {}", protocol, port, address.str(), target);
    return host_ip ? host_ip->str() + " " + el : el;
}

std::optional<PortElement> PortElement::parse(std::string_view text) {
    std::vector<std::string_view> w;
    for (size_t i = 0; i < text.size();) {
        auto end = std::min(text.find(' ', i), text.size());
        if (end > i) w.push_back(text.substr(i, end - i));
        i = end + 1;
    }
    if (w.size() != 4 && w.size() != 5) return std::nullopt;
    auto number = [](std::string_view t) -> std::optional<uint16_t> {
        unsigned v = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
        if (ec != std::errc() || end != t.data() + t.size() || v < 1 || v > 65535) return std::nullopt;
        return uint16_t(v);
    };
    PortElement e;
    size_t i = 0;
    if (w.size() == 5) {
        e.host_ip = IpAddr::parse(std::string(w[i++]));
        if (!e.host_ip) return std::nullopt;
    }
    e.protocol = std::string(w[i++]);
    if (e.protocol != "tcp" && e.protocol != "udp" && e.protocol != "sctp") return std::nullopt;
    auto port_text = w[i++];
    if (auto slash = port_text.find('/'); slash != std::string_view::npos) {
        unsigned slot = 0;
        auto t = port_text.substr(slash + 1);
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), slot);
        if (ec != std::errc() || end != t.data() + t.size() || t.empty() || slot > 65535) return std::nullopt;
        e.slot = uint16_t(slot);
        port_text = port_text.substr(0, slash);
    }
    auto port = number(port_text);
    auto address = IpAddr::parse(std::string(w[i++]));
    auto target = number(w[i++]);
    if (!port || !address || !target) return std::nullopt;
    e.port = *port;
    e.address = *address;
    e.target = *target;
    return e;
}

std::string NftTable::skeleton() const {
    std::string s = fmt::format("table {} {}\n", family, name);
    auto cs = chains;
    std::sort(cs.begin(), cs.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (auto& c : cs) s += fmt::format("chain {} {} {} {}\n", c.name, c.type, c.hook, c.priority);
    for (auto& [n, set] : sets) s += fmt::format("set {} {}\n", n, to_string(set.layout));
    // Rules in chain order (as the kernel lists them), in their order within each chain.
    auto sorted = chains;
    std::sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (auto& c : sorted)
        for (auto& r : rules)
            if (r.chain == c.name) s += fmt::format("rule {}: {}\n", r.chain, r.text);
    for (auto& r : rules)  // rules in chains topo does not know: drift
        if (std::none_of(chains.begin(), chains.end(), [&](auto& c) { return c.name == r.chain; }))
            s += fmt::format("rule {}: {}\n", r.chain, r.text);
    return s;
}

std::vector<NftElementDiff> element_diff(const NftTable& desired, const NftTable& live) {
    std::vector<NftElementDiff> out;
    static const NftSet none;
    for (auto& [name, want] : desired.sets) {
        auto it = live.sets.find(name);
        const NftSet& have = it == live.sets.end() ? none : it->second;
        NftElementDiff d{name, {}, {}};
        std::set_difference(want.elements.begin(), want.elements.end(), have.elements.begin(),
                            have.elements.end(), std::back_inserter(d.add));
        std::set_difference(have.elements.begin(), have.elements.end(), want.elements.begin(),
                            want.elements.end(), std::back_inserter(d.remove));
        if (!d.add.empty() || !d.remove.empty()) out.push_back(std::move(d));
    }
    return out;
}

const char* to_string(NftLayout l) {
    switch (l) {
        case NftLayout::Ifnames: return "ifnames";
        case NftLayout::ProtoPortToAddr: return "proto-port-to-addr";
        case NftLayout::AddrProtoPortToAddr: return "addr-proto-port-to-addr";
        case NftLayout::ProtoPortToAddr6: return "proto-port-to-addr6";
        case NftLayout::AddrProtoPortToAddr6: return "addr6-proto-port-to-addr6";
        case NftLayout::ProtoPortSlotToAddr: return "proto-port-slot-to-addr";
        case NftLayout::AddrProtoPortSlotToAddr: return "addr-proto-port-slot-to-addr";
        case NftLayout::ProtoPortSlotToAddr6: return "proto-port-slot-to-addr6";
        case NftLayout::AddrProtoPortSlotToAddr6: return "addr6-proto-port-slot-to-addr6";
    }
    return "?";
}

const char* to_string(NftOp op) {
    switch (op) {
        case NftOp::AcceptEstablished: return "accept-established";
        case NftOp::AcceptDnat: return "accept-dnat";
        case NftOp::AcceptWithin: return "accept-within";
        case NftOp::DropFromSetToPrefix: return "drop-set-to-prefix";
        case NftOp::DropFromPrefixToSet: return "drop-prefix-to-set";
        case NftOp::DropIn: return "drop-in";
        case NftOp::DropOut: return "drop-out";
        case NftOp::DnatPorts: return "dnat-ports";
        case NftOp::DnatHostPorts: return "dnat-host-ports";
        case NftOp::Masquerade: return "masquerade";
        case NftOp::MasqueradeLoopback: return "masquerade-loopback";
        case NftOp::MasqueradeHairpin: return "masquerade-hairpin";
        case NftOp::DropWithin: return "drop-within";
        case NftOp::DnatBalanced: return "dnat-balanced";
        case NftOp::DnatHostBalanced: return "dnat-host-balanced";
    }
    return "?";
}

}  // namespace topo
