// Expressions for topo's rule vocabulary (NftOp), written the way `nft`
// compiles the equivalent rule text, and element encodings:
//   concatenations put each field in its own 32-bit register, so a 1-byte
//   l4proto and a 2-byte port each take 4 bytes of key (zero padded).
#include "kernel/nft_build.hpp"

#include <arpa/inet.h>
#include <libnftnl/expr.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_nat.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fmt/format.h>
#include <memory>
#include <sstream>

#include "kernel/kernel.hpp"

namespace topo::nft {

namespace {

// nft's datatype ids (for `nft list` to print elements readably).
constexpr uint32_t type_ipaddr = 7, type_ip6addr = 8, type_inet_proto = 12, type_inet_service = 13, type_mark = 19,
                   type_ifname = 41;
constexpr uint32_t concat(uint32_t a, uint32_t b) { return (a << 6) | b; }

nftnl_expr* expr(const char* name) { return nftnl_expr_alloc(name); }

void add_meta(nftnl_rule* r, uint32_t key, uint32_t dreg) {
    auto* e = expr("meta");
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
    nftnl_rule_add_expr(r, e);
}
void add_payload(nftnl_rule* r, uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg) {
    auto* e = expr("payload");
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
    nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
    nftnl_rule_add_expr(r, e);
}
void add_cmp(nftnl_rule* r, uint32_t sreg, uint32_t op, const void* data, uint32_t len) {
    auto* e = expr("cmp");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
    nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
    nftnl_rule_add_expr(r, e);
}
void add_bitwise(nftnl_rule* r, uint32_t reg, const void* mask, uint32_t len) {
    auto* e = expr("bitwise");
    std::vector<uint8_t> zero(len, 0);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, reg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero.data(), len);
    nftnl_rule_add_expr(r, e);
}
void add_lookup(nftnl_rule* r, const std::string& set, uint32_t set_id, uint32_t sreg, int dreg) {
    auto* e = expr("lookup");
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set.c_str());
    if (set_id) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
    if (dreg >= 0) nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, uint32_t(dreg));
    nftnl_rule_add_expr(r, e);
}
void add_verdict(nftnl_rule* r, int verdict) {
    auto* e = expr("immediate");
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, uint32_t(verdict));
    nftnl_rule_add_expr(r, e);
}
void add_nfproto(nftnl_rule* r, int family) {
    uint8_t proto = family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
    add_meta(r, NFT_META_NFPROTO, NFT_REG_1);
    add_cmp(r, NFT_REG_1, NFT_CMP_EQ, &proto, 1);
}
// iifname/oifname == name (exact, NUL-padded) or, for "prefix*", a prefix match.
void add_ifname(nftnl_rule* r, uint32_t meta_key, const std::string& name, uint32_t op = NFT_CMP_EQ) {
    add_meta(r, meta_key, NFT_REG_1);
    char buf[IFNAMSIZ] = {};
    bool prefix = !name.empty() && name.back() == '*';
    std::string n = prefix ? name.substr(0, name.size() - 1) : name;
    size_t len = std::min(n.size(), size_t(IFNAMSIZ - 1));  // a longer name could name no link
    std::memcpy(buf, n.data(), len);
    add_cmp(r, NFT_REG_1, op, buf, prefix ? uint32_t(len) : IFNAMSIZ);
}
const Prefix& subnet_of(const NftRule& rule) {
    if (!rule.subnet) throw KernelError("nft: rule \"" + rule.text + "\" needs a subnet");
    return *rule.subnet;
}
void add_saddr_in(nftnl_rule* r, const Prefix& p) {
    int bytes = p.addr.is_v4() ? 4 : 16;
    add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, p.addr.is_v4() ? 12 : 8, bytes, NFT_REG_1);
    IpAddr m;
    m.family = p.addr.family;
    for (int i = 0; i < bytes; ++i) {
        int bits = std::clamp(int(p.len) - i * 8, 0, 8);
        m.bytes[i] = uint8_t(0xff << (8 - bits));
    }
    add_bitwise(r, NFT_REG_1, m.bytes.data(), bytes);
    add_cmp(r, NFT_REG_1, NFT_CMP_EQ, p.network().addr.bytes.data(), bytes);
}
void add_ct_bits(nftnl_rule* r, uint32_t key, uint32_t bits) {
    auto* e = expr("ct");
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
    nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
    nftnl_rule_add_expr(r, e);
    uint32_t zero = 0;
    add_bitwise(r, NFT_REG_1, &bits, 4);
    add_cmp(r, NFT_REG_1, NFT_CMP_NEQ, &zero, 4);
}
void add_masq(nftnl_rule* r) { nftnl_rule_add_expr(r, expr("masq")); }
// DNAT to the address . port found in registers from reg_addr on (an IPv6
// address takes four 32-bit registers, the port the one after).
void add_dnat(nftnl_rule* r, uint32_t reg_addr, int family) {
    auto* e = expr("nat");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY, family == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_addr + (family == 4 ? 1 : 4));
    nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED);
    nftnl_rule_add_expr(r, e);
}
// numgen inc mod replica_slots: a replicated port's slot, in host byte order.
void add_slot(nftnl_rule* r, uint32_t dreg) {
    auto* e = expr("numgen");
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_DREG, dreg);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_MODULUS, replica_slots);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_TYPE, NFT_NG_INCREMENTAL);
    nftnl_expr_set_u32(e, NFTNL_EXPR_NG_OFFSET, 0);
    nftnl_rule_add_expr(r, e);
}
// Not ::1: a reply from the sandbox could never come back to it (a loopback
// source arriving on the bridge is dropped), so a client trying localhost
// would hang instead of falling back to 127.0.0.1.
void add_not_loopback6(nftnl_rule* r) {
    static const uint8_t loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 24, 16, NFT_REG32_00);
    add_cmp(r, NFT_REG32_00, NFT_CMP_NEQ, loopback6, 16);
}
void add_fib_local(nftnl_rule* r) {
    auto* e = expr("fib");
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE);
    nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
    nftnl_rule_add_expr(r, e);
    uint32_t local = 2;  // RTN_LOCAL
    add_cmp(r, NFT_REG_1, NFT_CMP_EQ, &local, 4);
}

void build_ops(nftnl_rule* r, const NftRule& rule, uint32_t set_id) {
    switch (rule.op) {
        case NftOp::AcceptEstablished:
            add_ct_bits(r, NFT_CT_STATE, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED));
            return add_verdict(r, NF_ACCEPT);
        case NftOp::AcceptDnat:
            add_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
            return add_verdict(r, NF_ACCEPT);
        case NftOp::AcceptWithin:
            add_ifname(r, NFT_META_IIFNAME, rule.ifname);
            add_ifname(r, NFT_META_OIFNAME, rule.ifname);
            return add_verdict(r, NF_ACCEPT);
        case NftOp::DropFromSetToPrefix:
            add_meta(r, NFT_META_IIFNAME, NFT_REG_1);
            add_lookup(r, rule.set, set_id, NFT_REG_1, -1);
            add_ifname(r, NFT_META_OIFNAME, rule.ifname);
            return add_verdict(r, NF_DROP);
        case NftOp::DropFromPrefixToSet:
            add_ifname(r, NFT_META_IIFNAME, rule.ifname);
            add_meta(r, NFT_META_OIFNAME, NFT_REG_1);
            add_lookup(r, rule.set, set_id, NFT_REG_1, -1);
            return add_verdict(r, NF_DROP);
        case NftOp::DropIn:
            add_ifname(r, NFT_META_IIFNAME, rule.ifname);
            return add_verdict(r, NF_DROP);
        case NftOp::DropOut:
            add_ifname(r, NFT_META_OIFNAME, rule.ifname);
            return add_verdict(r, NF_DROP);
        case NftOp::DnatPorts:
        case NftOp::DnatBalanced: {
            // l4proto . dport [. slot]
            bool slot = rule.op == NftOp::DnatBalanced;
            add_nfproto(r, rule.family);
            if (rule.family == 6) add_not_loopback6(r);
            add_fib_local(r);
            add_meta(r, NFT_META_L4PROTO, NFT_REG32_00);
            add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, NFT_REG32_01);
            if (slot) add_slot(r, NFT_REG32_02);
            uint32_t to = slot ? NFT_REG32_03 : NFT_REG32_02;
            add_lookup(r, rule.set, set_id, NFT_REG32_00, int(to));
            return add_dnat(r, to, rule.family);
        }
        case NftOp::DnatHostPorts:
        case NftOp::DnatHostBalanced: {
            // daddr (IPv4 at 16, 4 bytes; IPv6 at 24, 16 bytes = 4 registers) . l4proto . dport [. slot]
            bool v4 = rule.family == 4, slot = rule.op == NftOp::DnatHostBalanced;
            uint32_t next = v4 ? NFT_REG32_01 : NFT_REG32_04;
            add_nfproto(r, rule.family);
            add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, v4 ? 16 : 24, v4 ? 4 : 16, NFT_REG32_00);
            add_meta(r, NFT_META_L4PROTO, next);
            add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, next + 1);
            if (slot) add_slot(r, next + 2);
            uint32_t to = next + (slot ? 3 : 2);
            add_lookup(r, rule.set, set_id, NFT_REG32_00, int(to));
            return add_dnat(r, to, rule.family);
        }
        case NftOp::Masquerade:
            add_nfproto(r, rule.family);
            add_saddr_in(r, subnet_of(rule));
            add_ifname(r, NFT_META_OIFNAME, rule.ifname, NFT_CMP_NEQ);
            return add_masq(r);
        case NftOp::MasqueradeLoopback:
            add_nfproto(r, 4);
            add_saddr_in(r, *Prefix::parse("127.0.0.0/8"));
            add_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
            return add_masq(r);
        case NftOp::MasqueradeHairpin:
            add_nfproto(r, rule.family);
            add_ifname(r, NFT_META_OIFNAME, rule.ifname);
            add_saddr_in(r, subnet_of(rule));
            add_ct_bits(r, NFT_CT_STATUS, IPS_DST_NAT);
            return add_masq(r);
        case NftOp::DropWithin:
            add_ifname(r, NFT_META_IIFNAME, rule.ifname);
            add_ifname(r, NFT_META_OIFNAME, rule.ifname);
            return add_verdict(r, NF_DROP);
    }
}

uint8_t proto_number(const std::string& p) {
    if (p == "tcp") return IPPROTO_TCP;
    if (p == "udp") return IPPROTO_UDP;
    if (p == "sctp") return IPPROTO_SCTP;
    throw KernelError("nft: unknown protocol " + p);
}
std::string proto_name(uint8_t n) {
    switch (n) {
        case IPPROTO_TCP: return "tcp";
        case IPPROTO_UDP: return "udp";
        case IPPROTO_SCTP: return "sctp";
    }
    return std::to_string(n);
}

struct Bytes {
    std::vector<uint8_t> b;
    void ip(const IpAddr& a) { b.insert(b.end(), a.bytes.begin(), a.bytes.begin() + (a.is_v4() ? 4 : 16)); }
    void proto(const std::string& s) { b.insert(b.end(), {proto_number(s), 0, 0, 0}); }
    void port(uint16_t p) { b.insert(b.end(), {uint8_t(p >> 8), uint8_t(p), 0, 0}); }
    void slot(uint16_t s) {  // numgen's u32, in host byte order
        uint32_t v = s;
        auto* p = reinterpret_cast<const uint8_t*>(&v);
        b.insert(b.end(), p, p + 4);
    }
};

bool by_address(NftLayout l) {
    return l == NftLayout::AddrProtoPortToAddr || l == NftLayout::AddrProtoPortToAddr6 ||
           l == NftLayout::AddrProtoPortSlotToAddr || l == NftLayout::AddrProtoPortSlotToAddr6;
}
int family_of(NftLayout l) {
    return l == NftLayout::ProtoPortToAddr6 || l == NftLayout::AddrProtoPortToAddr6 ||
                   l == NftLayout::ProtoPortSlotToAddr6 || l == NftLayout::AddrProtoPortSlotToAddr6
               ? 6
               : 4;
}
bool slotted(NftLayout l) {
    return l == NftLayout::ProtoPortSlotToAddr || l == NftLayout::AddrProtoPortSlotToAddr ||
           l == NftLayout::ProtoPortSlotToAddr6 || l == NftLayout::AddrProtoPortSlotToAddr6;
}

// "tcp 8080 10.0.42.130 80" → key (proto . port), data (ip . port).
std::pair<Bytes, Bytes> encode(NftLayout layout, const std::string& text) {
    Bytes key, data;
    if (layout == NftLayout::Ifnames) {
        key.b.assign(IFNAMSIZ, 0);
        std::memcpy(key.b.data(), text.data(), std::min(text.size(), size_t(IFNAMSIZ - 1)));
        return {key, data};
    }
    auto e = PortElement::parse(text);
    int fam = family_of(layout);
    bool fits = e && bool(e->host_ip) == by_address(layout) && e->address.family == fam &&
                (!e->host_ip || e->host_ip->family == fam) && bool(e->slot) == slotted(layout) &&
                (!e->slot || *e->slot < replica_slots);
    if (!fits) throw KernelError("nft: bad element \"" + text + "\" for its map");
    if (e->host_ip) key.ip(*e->host_ip);
    key.proto(e->protocol);
    key.port(e->port);
    if (e->slot) key.slot(*e->slot);
    data.ip(e->address);
    data.port(e->target);
    return {key, data};
}

}  // namespace

namespace {

// The hooks topo's chains use, by the names the model gives them.
constexpr std::pair<const char*, uint32_t> hooks[] = {{"prerouting", NF_INET_PRE_ROUTING},
                                                      {"input", NF_INET_LOCAL_IN},
                                                      {"forward", NF_INET_FORWARD},
                                                      {"output", NF_INET_LOCAL_OUT},
                                                      {"postrouting", NF_INET_POST_ROUTING}};

}  // namespace

uint32_t hook_number(const std::string& name) {
    for (auto& [n, number] : hooks)
        if (name == n) return number;
    throw KernelError("nft: unknown hook \"" + name + "\"");
}

std::string hook_name(uint32_t number) {
    for (auto& [n, num] : hooks)
        if (number == num) return n;
    return fmt::format("hook {}", number);  // not one of topo's: a difference, never taken for one
}

nftnl_chain* build_chain(const std::string& table, const NftChain& c) {
    // Owned until returned: an unknown hook throws.
    std::unique_ptr<nftnl_chain, decltype(&nftnl_chain_free)> owned(nftnl_chain_alloc(), nftnl_chain_free);
    auto* ch = owned.get();
    nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, table.c_str());
    nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, c.name.c_str());
    nftnl_chain_set_u32(ch, NFTNL_CHAIN_FAMILY, family);
    nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, c.type.c_str());
    nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, hook_number(c.hook));
    nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c.priority);
    nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY, NF_ACCEPT);
    return owned.release();
}

nftnl_set* build_set(const std::string& table, const NftSet& s, uint32_t id) {
    auto* set = nftnl_set_alloc();
    nftnl_set_set_str(set, NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(set, NFTNL_SET_NAME, s.name.c_str());
    nftnl_set_set_u32(set, NFTNL_SET_FAMILY, family);
    nftnl_set_set_u32(set, NFTNL_SET_ID, id);
    switch (s.layout) {
        case NftLayout::Ifnames: {
            nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, type_ifname);
            nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, IFNAMSIZ);
            // nft reads the key's byte order from the set's userdata; without it, it
            // byte-swaps string keys and `nft list` shows the names as "".
            auto* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
            nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER, 1);  // nft's BYTEORDER_HOST_ENDIAN
            nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
            nftnl_udata_buf_free(ud);
            break;
        }
        default: {
            bool addr = by_address(s.layout), slot = slotted(s.layout);
            uint32_t addr_type = family_of(s.layout) == 4 ? type_ipaddr : type_ip6addr;
            uint32_t addr_len = family_of(s.layout) == 4 ? 4 : 16;
            uint32_t key = concat(type_inet_proto, type_inet_service);
            if (addr) key = concat(concat(addr_type, type_inet_proto), type_inet_service);
            if (slot) key = concat(key, type_mark);
            nftnl_set_set_u32(set, NFTNL_SET_FLAGS, NFT_SET_MAP);
            nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, key);
            nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, (addr ? addr_len : 0) + 8 + (slot ? 4 : 0));
            nftnl_set_set_u32(set, NFTNL_SET_DATA_TYPE, concat(addr_type, type_inet_service));
            nftnl_set_set_u32(set, NFTNL_SET_DATA_LEN, addr_len + 4);
            break;
        }
    }
    return set;
}

nftnl_set* build_elements(const std::string& table, const NftSet& s, const std::vector<std::string>& elements) {
    // Owned until returned: encode() throws on an element it cannot encode.
    std::unique_ptr<nftnl_set, decltype(&nftnl_set_free)> set(nftnl_set_alloc(), nftnl_set_free);
    nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, table.c_str());
    nftnl_set_set_str(set.get(), NFTNL_SET_NAME, s.name.c_str());
    nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, family);
    for (auto& text : elements) {
        auto [key, data] = encode(s.layout, text);
        auto* e = nftnl_set_elem_alloc();
        nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.b.data(), uint32_t(key.b.size()));
        if (!data.b.empty()) nftnl_set_elem_set(e, NFTNL_SET_ELEM_DATA, data.b.data(), uint32_t(data.b.size()));
        nftnl_set_elem_add(set.get(), e);
    }
    return set.release();
}

nftnl_rule* build_rule(const std::string& table, const NftRule& rule, const std::map<std::string, uint32_t>& set_ids) {
    // Owned until returned: build_ops throws on a rule it cannot build.
    std::unique_ptr<nftnl_rule, decltype(&nftnl_rule_free)> owned(nftnl_rule_alloc(), nftnl_rule_free);
    auto* r = owned.get();
    nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table.c_str());
    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, rule.chain.c_str());
    nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
    auto it = set_ids.find(rule.set);
    build_ops(r, rule, it == set_ids.end() ? 0 : it->second);
    // The rule's identity, as a comment `nft list` shows too.
    auto* ud = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
    nftnl_udata_put_strz(ud, NFTNL_UDATA_RULE_COMMENT, rule.text.c_str());
    nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud));
    nftnl_udata_buf_free(ud);
    return owned.release();
}

std::string rule_text(nftnl_rule* r) {
    if (!nftnl_rule_is_set(r, NFTNL_RULE_USERDATA)) return "";
    uint32_t len = 0;
    const void* data = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
    std::string text;
    nftnl_udata_parse(data, len, [](const nftnl_udata* attr, void* out) -> int {
        if (nftnl_udata_type(attr) == NFTNL_UDATA_RULE_COMMENT)
            *static_cast<std::string*>(out) = std::string(static_cast<const char*>(nftnl_udata_get(attr)));
        return 0;
    }, &text);
    return text;
}

NftLayout layout_of(uint32_t key_type, uint32_t key_len, uint32_t data_len) {
    if (data_len == 0) return NftLayout::Ifnames;  // a set, not a map
    if ((key_type & 0x3f) == type_mark) {  // keyed by a slot too
        key_len -= 4;
        if (data_len == 20) return key_len == 24 ? NftLayout::AddrProtoPortSlotToAddr6 : NftLayout::ProtoPortSlotToAddr6;
        return key_len == 12 ? NftLayout::AddrProtoPortSlotToAddr : NftLayout::ProtoPortSlotToAddr;
    }
    if (data_len == 20) return key_len == 24 ? NftLayout::AddrProtoPortToAddr6 : NftLayout::ProtoPortToAddr6;
    return key_len == 12 ? NftLayout::AddrProtoPortToAddr : NftLayout::ProtoPortToAddr;
}

std::string decode_element(NftLayout layout, const void* key, uint32_t key_len, const void* data, uint32_t data_len) {
    auto* k = static_cast<const uint8_t*>(key);
    auto* d = static_cast<const uint8_t*>(data);
    if (layout == NftLayout::Ifnames) return std::string(reinterpret_cast<const char*>(k), strnlen(reinterpret_cast<const char*>(k), key_len));
    int fam = family_of(layout);
    size_t alen = fam == 4 ? 4 : 16;
    auto ip = [&](const uint8_t* p) {
        IpAddr a;
        a.family = uint8_t(fam);
        std::memcpy(a.bytes.data(), p, alen);
        return a;
    };
    auto port = [](const uint8_t* p) { return uint16_t((unsigned(p[0]) << 8) | p[1]); };
    size_t off = by_address(layout) ? alen : 0;
    if (!d || data_len < alen + 4 || key_len < off + 8 + (slotted(layout) ? 4 : 0)) return "?";
    PortElement e;
    if (off) e.host_ip = ip(k);
    e.protocol = proto_name(k[off]);
    e.port = port(k + off + 4);
    if (slotted(layout)) {
        uint32_t v = 0;
        std::memcpy(&v, k + off + 8, 4);
        e.slot = uint16_t(v);
    }
    e.address = ip(d);
    e.target = port(d + alen);
    return e.str();
}

}  // namespace topo::nft
