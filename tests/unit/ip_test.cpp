#include <doctest/doctest.h>

#include "model/ip.hpp"

using namespace topo;

TEST_CASE("Prefix: parsing, containment and host bounds") {
    auto p = Prefix::parse("10.0.42.0/24").value();
    CHECK(p.contains(IpAddr::parse("10.0.42.255").value()));
    CHECK_FALSE(p.contains(IpAddr::parse("10.0.43.0").value()));
    CHECK(p.first_host().str() == "10.0.42.1");
    CHECK(p.last_host().str() == "10.0.42.254");
    CHECK(Prefix::parse("10.0.42.128/25")->overlaps(p));
    CHECK_FALSE(Prefix::parse("10.0.42.0/33"));
    CHECK_FALSE(Prefix::parse("10.0.42.0/"));
    auto v6 = Prefix::parse("fd00:1::/64").value();
    CHECK(v6.first_host().str() == "fd00:1::1");
    CHECK(v6.contains(IpAddr::parse("fd00:1::ffff").value()));
    CHECK(Prefix::parse("10.1.2.3/8")->network().str() == "10.0.0.0/8");
}

TEST_CASE("Mac: parsing and the 02:42 scheme") {
    CHECK(Mac::from_ipv4(IpAddr::parse("10.0.42.130").value()).str() == "02:42:0a:00:2a:82");
    CHECK(Mac::parse("02:42:0a:00:2a:82").value().str() == "02:42:0a:00:2a:82");
    CHECK_FALSE(Mac::parse("02:42:0a:00:2a"));
    CHECK_FALSE(Mac::parse("02-42-0a-00-2a-82"));
}
