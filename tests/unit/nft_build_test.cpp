// Set elements survive the trip through libnftnl's encoding (what the kernel
// stores) and back to the model's text, for every map layout — no root needed.
#include "kernel/nft_build.hpp"

#include <doctest/doctest.h>

#include <libnftnl/set.h>

#include <string>
#include <vector>

#include "model/naming.hpp"
#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

namespace {

std::vector<std::string> round_trip(NftLayout layout, const std::vector<std::string>& elements) {
    NftSet s{"m", layout, {}};
    auto* decl = nft::build_set("t", s, 1);
    auto key_type = nftnl_set_get_u32(decl, NFTNL_SET_KEY_TYPE);
    nftnl_set_free(decl);
    auto* set = nft::build_elements("t", s, elements);
    std::vector<std::string> out;
    auto* it = nftnl_set_elems_iter_create(set);
    for (auto* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it)) {
        uint32_t klen = 0, dlen = 0;
        const void* k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
        const void* d = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_DATA) ? nftnl_set_elem_get(e, NFTNL_SET_ELEM_DATA, &dlen) : nullptr;
        CHECK(nft::layout_of(key_type, klen, dlen) == layout);
        out.push_back(nft::decode_element(layout, k, klen, d, dlen));
    }
    nftnl_set_elems_iter_destroy(it);
    nftnl_set_free(set);
    return out;
}

}  // namespace

TEST_CASE("nft: map elements of each family encode and decode to the same text") {
    std::vector<std::string> v4 = {"tcp 8080 10.0.42.130 80", "sctp 30000 10.0.42.130 3000"};
    CHECK(round_trip(NftLayout::ProtoPortToAddr, v4) == v4);
    std::vector<std::string> v4h = {"127.0.0.1 udp 5353 10.0.42.130 53"};
    CHECK(round_trip(NftLayout::AddrProtoPortToAddr, v4h) == v4h);
    std::vector<std::string> v6 = {"tcp 8080 fd00:42::2 80", "sctp 30000 fd00:42::2 3000"};
    CHECK(round_trip(NftLayout::ProtoPortToAddr6, v6) == v6);
    std::vector<std::string> v6h = {"2001:db8::1 tcp 8088 fd00:42::2 88"};
    CHECK(round_trip(NftLayout::AddrProtoPortToAddr6, v6h) == v6h);
    // A replicated port's slots: a key of the same length as an address's, told apart by its type.
    std::vector<std::string> s4 = {"tcp 8080/0 10.0.42.130 80", "tcp 8080/239 10.0.42.131 80"};
    CHECK(round_trip(NftLayout::ProtoPortSlotToAddr, s4) == s4);
    std::vector<std::string> s4h = {"127.0.0.1 udp 5353/7 10.0.42.130 53"};
    CHECK(round_trip(NftLayout::AddrProtoPortSlotToAddr, s4h) == s4h);
    std::vector<std::string> s6 = {"tcp 8080/1 fd00:42::2 80"};
    CHECK(round_trip(NftLayout::ProtoPortSlotToAddr6, s6) == s6);
    std::vector<std::string> s6h = {"2001:db8::1 tcp 8088/2 fd00:42::2 88"};
    CHECK(round_trip(NftLayout::AddrProtoPortSlotToAddr6, s6h) == s6h);
    NftSet bad{"m", NftLayout::ProtoPortSlotToAddr, {}};
    CHECK_THROWS_WITH(nft::build_elements("t", bad, {"tcp 80 10.0.0.2 80"}), "nft: bad element \"tcp 80 10.0.0.2 80\" for its map");
    CHECK_THROWS_WITH(nft::build_elements("t", bad, {"tcp 80/240 10.0.0.2 80"}),
                      "nft: bad element \"tcp 80/240 10.0.0.2 80\" for its map");  // past the slots
}

TEST_CASE("nft: an element that does not fit its map is refused, naming it") {
    NftSet s{"m", NftLayout::ProtoPortToAddr6, {}};
    CHECK_THROWS_WITH(nft::build_elements("t", s, {"tcp 80 10.0.0.2 80"}),
                      "nft: bad element \"tcp 80 10.0.0.2 80\" for its map");  // the wrong family
    CHECK_THROWS_WITH(nft::build_elements("t", s, {"2001:db8::1 tcp 80 fd00::2 80"}),
                      "nft: bad element \"2001:db8::1 tcp 80 fd00::2 80\" for its map");  // keyed by address
    CHECK_THROWS_WITH(nft::build_elements("t", s, {"tcp 0 fd00::2 80"}), "nft: bad element \"tcp 0 fd00::2 80\" for its map");
}

TEST_CASE("model: a port element and a marker are parsed by their owner, and the unknown refused") {
    auto e = PortElement::parse("2001:db8::1 udp 5353 fd00::2 53");
    REQUIRE(e);
    CHECK(e->host_ip == ip("2001:db8::1"));
    CHECK(e->protocol == "udp");
    CHECK(e->port == 5353);
    CHECK(e->address == ip("fd00::2"));
    CHECK(e->target == 53);
    CHECK(e->str() == "2001:db8::1 udp 5353 fd00::2 53");
    for (auto* bad : {"", "tcp 80 10.0.0.2", "icmp 80 10.0.0.2 80", "tcp 70000 10.0.0.2 80", "tcp 80 nowhere 80",
                      "x tcp 80 10.0.0.2 80", "tcp 80 10.0.0.2 80 extra words"})
        CHECK_FALSE(PortElement::parse(bad));
    auto m = naming::Marker::parse(naming::endpoint_marker("shop", "web", "front"));
    REQUIRE(m);
    CHECK(m->kind == naming::Marker::Kind::Endpoint);
    CHECK((m->project == "shop" && m->service == "web" && m->network == "front"));
    CHECK(m->str() == "topo/shop/svc/web/front");
    CHECK(naming::Marker::parse("topo/shop/")->kind == naming::Marker::Kind::Project);
    CHECK(naming::Marker::parse("topo/shop/net/front")->network == "front");
    for (auto* bad : {"", "topo/", "topo//net/x", "topo/shop", "topo/shop/unmarked", "topo/shop/net/", "topo/shop/svc/a/b/c",
                      "docker/shop/net/x"})
        CHECK_FALSE(naming::Marker::parse(bad));
}

TEST_CASE("nft: a chain's hook by name and back; an unknown name is refused, an unknown number never taken for one") {
    for (auto* h : {"prerouting", "input", "forward", "output", "postrouting"}) CHECK(nft::hook_name(nft::hook_number(h)) == h);
    CHECK_THROWS_WITH(nft::hook_number("ingress"), "nft: unknown hook \"ingress\"");
    CHECK(nft::hook_name(99) == "hook 99");
}

TEST_CASE("nft: a prefix interface name longer than a name can be is cut, never read past (ASan pass)") {
    NftRule r;
    r.chain = "forward";
    r.text = "long prefix";
    r.op = NftOp::DropFromPrefixToSet;
    r.ifname = std::string(40, 'x') + "*";  // the fuzzer's find: the comparison read 40 bytes of a 16-byte name
    r.set = "s";
    auto* built = nft::build_rule("t", r, {{"s", 1}});
    REQUIRE(built);
    nftnl_rule_free(built);
}
