// Names and MACs topo derives: stable across runs and hosts, and within the kernel's limits.
#include <doctest/doctest.h>

#include "model/naming.hpp"

using namespace topo;

TEST_CASE("naming: generated link names fit IFNAMSIZ and carry the project's hash") {
    auto br = naming::bridge("shop", "frontend");
    auto v = naming::veth("shop", "web", "frontend");
    CHECK(br.size() <= 15);
    CHECK(v.size() <= 15);
    CHECK(br.starts_with("tb"));
    CHECK(v.starts_with("tv"));
    CHECK(br.substr(2, 4) == v.substr(2, 4));  // the project's part
    CHECK(br == naming::bridge("shop", "frontend"));
    CHECK(br != naming::bridge("shop", "backend"));
}

TEST_CASE("naming: generated names never change between versions (they name links on running hosts)") {
    // Values from topo's first naming code (fmt-formatted hashes of "project/object").
    CHECK(naming::bridge("shop", "frontend") == "tb24096595da");
    CHECK(naming::veth("shop", "web", "frontend") == "tv2409a69061");
    CHECK(naming::vxlan("shop", "overlay") == "tx24092d1112");
    CHECK(naming::veth("bench", "s999", "net") == "tv1d39fcc964");
}

TEST_CASE("naming: a bridge's MAC is fixed, locally administered, and never Docker's 02:42 scheme") {
    auto m = naming::bridge_mac(naming::bridge("shop", "frontend"));
    CHECK(m == naming::bridge_mac(naming::bridge("shop", "frontend")));
    CHECK(m != naming::bridge_mac(naming::bridge("shop", "backend")));
    CHECK(m != naming::bridge_mac("br-users"));
    CHECK(m.bytes[0] == 0x06);  // locally administered (bit 1), unicast (bit 0 clear)
    CHECK(m.str().starts_with("06:"));
}
