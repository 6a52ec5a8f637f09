// IP addresses, prefixes and MAC addresses as plain values.
//
// Everything here is pure: parsing, formatting and arithmetic on addresses,
// used by the manifest reader, IPAM, the planner and the kernel layer alike.
// An address remembers its family; IPv4 uses the first four bytes.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace topo {

struct IpAddr {
    uint8_t family = 0;  // 4 or 6; 0 = unset
    std::array<uint8_t, 16> bytes{};

    static std::optional<IpAddr> parse(std::string_view text);
    static IpAddr v4(uint32_t host_order);
    std::string str() const;
    bool is_v4() const { return family == 4; }
    bool is_v6() const { return family == 6; }
    int bits() const { return family == 4 ? 32 : 128; }
    uint32_t v4_value() const;  // host order; IPv4 only
    bool is_unspecified() const;  // 0.0.0.0 or ::
    bool is_loopback() const;     // 127.0.0.0/8 or ::1
    // The address `n` places further (wraps silently; callers check containment).
    IpAddr plus(uint64_t n) const;
    auto operator<=>(const IpAddr&) const = default;
};

struct Prefix {
    IpAddr addr;  // as written: may have host bits (an interface address)
    uint8_t len = 0;

    static std::optional<Prefix> parse(std::string_view text);
    std::string str() const;
    Prefix network() const;  // host bits cleared
    bool contains(const IpAddr& a) const;
    bool contains(const Prefix& p) const;
    bool overlaps(const Prefix& p) const;
    bool is_network() const { return network().addr == addr; }
    // First usable host address (network + 1) and the last one (broadcast - 1 for v4).
    IpAddr first_host() const;
    IpAddr last_host() const;
    // Number of addresses in the prefix, saturated at 2^63.
    uint64_t size() const;
    auto operator<=>(const Prefix&) const = default;
};

struct Mac {
    std::array<uint8_t, 6> bytes{};
    static std::optional<Mac> parse(std::string_view text);
    // Docker's scheme: 02:42 followed by the four IPv4 address bytes.
    static Mac from_ipv4(const IpAddr& a);
    std::string str() const;
    auto operator<=>(const Mac&) const = default;
};

}  // namespace topo
