// Parsing, formatting and arithmetic of IP addresses, prefixes and MAC
// addresses (model/ip.hpp).
#include "model/ip.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <fmt/format.h>

namespace topo {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
    std::string s(text);
    IpAddr a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
        a.family = 4;
        return a;
    }
    if (s.find(':') != std::string::npos && inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        a.family = 6;
        return a;
    }
    return std::nullopt;
}

IpAddr IpAddr::v4(uint32_t v) {
    IpAddr a;
    a.family = 4;
    a.bytes[0] = uint8_t(v >> 24);
    a.bytes[1] = uint8_t(v >> 16);
    a.bytes[2] = uint8_t(v >> 8);
    a.bytes[3] = uint8_t(v);
    return a;
}

uint32_t IpAddr::v4_value() const {
    return (uint32_t(bytes[0]) << 24) | (uint32_t(bytes[1]) << 16) | (uint32_t(bytes[2]) << 8) |
           uint32_t(bytes[3]);
}

bool IpAddr::is_unspecified() const {
    return std::all_of(bytes.begin(), bytes.begin() + (family == 4 ? 4 : 16), [](uint8_t b) { return b == 0; });
}

bool IpAddr::is_loopback() const {
    if (family == 4) return bytes[0] == 127;
    return std::all_of(bytes.begin(), bytes.begin() + 15, [](uint8_t b) { return b == 0; }) && bytes[15] == 1;
}

std::string IpAddr::str() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family == 4) {
        // By hand: inet_ntop goes through sprintf, and a plan of 1000 sandboxes
        // writes ~10,000 addresses (a seventh of its desired state's time).
        char* p = buf;
        for (int i = 0; i < 4; ++i) {
            if (i) *p++ = '.';
            p = std::to_chars(p, buf + sizeof buf, bytes[i]).ptr;
        }
        return std::string(buf, p);
    }
    if (family == 6) return inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    return "<none>";
}

IpAddr IpAddr::plus(uint64_t n) const {
    IpAddr r = *this;
    int last = family == 4 ? 3 : 15;
    unsigned carry = 0;
    for (int i = last; i >= 0 && (n || carry); --i) {
        unsigned sum = r.bytes[i] + unsigned(n & 0xff) + carry;
        r.bytes[i] = uint8_t(sum);
        carry = sum >> 8;
        n >>= 8;
    }
    return r;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto addr = IpAddr::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    auto lentext = text.substr(slash + 1);
    unsigned len = 0;
    auto [ptr, ec] = std::from_chars(lentext.data(), lentext.data() + lentext.size(), len);
    if (ec != std::errc() || ptr != lentext.data() + lentext.size() || lentext.empty()) return std::nullopt;
    if (len > unsigned(addr->bits())) return std::nullopt;
    return Prefix{*addr, uint8_t(len)};
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

Prefix Prefix::network() const {
    Prefix p = *this;
    int nbytes = addr.family == 4 ? 4 : 16;
    for (int i = 0; i < nbytes; ++i) {
        int bit_start = i * 8;
        if (bit_start >= len) p.addr.bytes[i] = 0;
        else if (bit_start + 8 > len) p.addr.bytes[i] &= uint8_t(0xff << (8 - (len - bit_start)));
    }
    return p;
}

bool Prefix::contains(const IpAddr& a) const {
    if (a.family != addr.family) return false;
    return Prefix{a, len}.network().addr == network().addr;
}

bool Prefix::contains(const Prefix& p) const { return p.len >= len && contains(p.addr); }

bool Prefix::overlaps(const Prefix& p) const { return contains(p) || p.contains(*this); }

IpAddr Prefix::first_host() const {
    auto n = network().addr;
    if (addr.family == 4 && len >= 31) return n;
    return n.plus(1);
}

IpAddr Prefix::last_host() const {
    IpAddr b = network().addr;
    int nbytes = addr.family == 4 ? 4 : 16;
    for (int i = 0; i < nbytes; ++i) {
        int bit_start = i * 8;
        if (bit_start >= len) b.bytes[i] = 0xff;
        else if (bit_start + 8 > len) b.bytes[i] |= uint8_t(0xff >> (len - bit_start));
    }
    if (addr.family == 4 && len < 31) {
        // Last address is broadcast; step back one.
        for (int i = 3; i >= 0; --i)
            if (b.bytes[i]-- != 0) break;
    }
    return b;
}

uint64_t Prefix::size() const {
    int host_bits = addr.bits() - len;
    if (host_bits >= 63) return uint64_t(1) << 63;
    return uint64_t(1) << host_bits;
}

std::optional<Mac> Mac::parse(std::string_view text) {
    Mac m;
    if (text.size() != 17) return std::nullopt;
    for (int i = 0; i < 6; ++i) {
        auto part = text.substr(i * 3, 2);
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(part.data(), part.data() + 2, v, 16);
        if (ec != std::errc() || ptr != part.data() + 2) return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
        m.bytes[i] = uint8_t(v);
    }
    return m;
}

Mac Mac::from_ipv4(const IpAddr& a) {
    return Mac{{0x02, 0x42, a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]}};
}

std::string Mac::str() const {
    // By hand, as IPv4 above: an overlay of 5,000 sandboxes names ~10,000 MACs a run.
    static constexpr char hex[] = "0123456789abcdef";
    std::string out(17, ':');
    for (size_t i = 0; i < 6; ++i) {
        out[3 * i] = hex[bytes[i] >> 4];
        out[3 * i + 1] = hex[bytes[i] & 0xf];
    }
    return out;
}

}  // namespace topo
