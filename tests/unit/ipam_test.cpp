#include "reconcile/ipam.hpp"

#include <doctest/doctest.h>

#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

static IpamResult run(const Project& p, Addressing prev = {}, std::vector<Prefix> routes = {}) {
    return allocate({&p, std::move(prev), std::move(routes), {}, {}});
}

TEST_CASE("ipam: static addresses, gateway default and lowest free from ip_range") {
    Project p = shop();
    p.services["api"] = svc("api", {ep("frontend")});
    auto r = run(p);
    REQUIRE(r.errors.empty());
    auto& a = r.addressing;
    CHECK(a.networks["frontend"].gateway4->str() == "10.0.42.1");
    CHECK(a.endpoint("web", "frontend")->v4->str() == "10.0.42.130");
    CHECK(a.endpoint("api", "frontend")->v4->str() == "10.0.42.128");  // range start, lowest free
    CHECK(a.endpoint("db", "backend")->v4->str() == "10.0.43.2");    // .1 is the gateway
    CHECK(a.endpoint("web", "backend")->v4->str() == "10.0.43.3");
    CHECK(a.endpoint("web", "frontend")->mac->str() == "02:42:0a:00:2a:82");
    CHECK(a.endpoint("web", "backend")->ifname == "eth1");
}

TEST_CASE("ipam: aux addresses and static addresses are never handed out") {
    Project p;
    p.name = "x";
    p.networks["n"] = bridge_net("n", "10.1.0.0/24");
    p.networks["n"].ipv4->aux_addresses["router"] = ip("10.1.0.2");
    p.services["a"] = svc("a", {ep("n")});
    p.services["b"] = svc("b", {ep("n", "eth0", "10.1.0.3")});
    p.services["c"] = svc("c", {ep("n")});
    auto r = run(p);
    REQUIRE(r.errors.empty());
    CHECK(r.addressing.endpoint("a", "n")->v4->str() == "10.1.0.4");
    CHECK(r.addressing.endpoint("c", "n")->v4->str() == "10.1.0.5");
}

TEST_CASE("ipam: allocations stay with their endpoint across runs") {
    Project p = shop();
    p.services["api"] = svc("api", {ep("frontend")});
    auto first = run(p).addressing;
    // A new service sorted before api must not take api's address.
    p.services["aaa"] = svc("aaa", {ep("frontend")});
    auto second = run(p, first).addressing;
    CHECK(second.endpoint("api", "frontend")->v4 == first.endpoint("api", "frontend")->v4);
    CHECK(second.endpoint("aaa", "frontend")->v4->str() == "10.0.42.129");
}

TEST_CASE("ipam: a kept address that became static elsewhere is reallocated") {
    Project p = shop();
    p.services["api"] = svc("api", {ep("frontend")});
    auto first = run(p).addressing;  // api = .128
    p.services["web"].endpoints[0].ipv4_address = ip("10.0.42.128");
    auto second = run(p, first).addressing;
    CHECK(second.endpoint("web", "frontend")->v4->str() == "10.0.42.128");
    CHECK(second.endpoint("api", "frontend")->v4->str() == "10.0.42.129");
}

TEST_CASE("ipam: default pools skip host routes and keep the subnet once picked") {
    Project p;
    p.name = "x";
    p.networks["n"] = bridge_net("n");
    p.services["a"] = svc("a", {ep("n")});
    auto r = run(p, {}, {pfx("172.17.0.0/16"), pfx("172.18.5.0/24")});
    REQUIRE(r.errors.empty());
    CHECK(r.addressing.networks["n"].subnet4->str() == "172.19.0.0/16");
    CHECK(r.addressing.networks["n"].gateway4->str() == "172.19.0.1");
    // Next run, with the routes gone: the subnet stays.
    auto again = run(p, r.addressing);
    CHECK(again.addressing.networks["n"].subnet4->str() == "172.19.0.0/16");
}

TEST_CASE("ipam: a subnet the host routes, or another project uses, is refused at its key; macvlan's is its LAN") {
    Project p = shop();
    p.networks["frontend"].ipv4->mark = {"net.yaml", 4, 25};
    p.networks["frontend"].ipv4->path = "networks.frontend.ipam.config[0].subnet";
    auto r = allocate({&p, {}, {pfx("10.0.42.0/24")}, {pfx("10.0.0.0/16")}, {}});
    REQUIRE(r.errors.size() == 2);
    CHECK(r.errors[1].path == "net.yaml:4:25: networks.frontend.ipam.config[0].subnet");
    CHECK(r.errors[1].message == "subnet 10.0.42.0/24 overlaps 10.0.42.0/24, a route of this host; sandboxes would "
                                 "take addresses the host reaches elsewhere: choose another subnet");
    CHECK(r.errors[0].path == "networks.backend");  // no mark: the network
    CHECK(r.errors[0].message == "subnet 10.0.43.0/24 overlaps 10.0.0.0/16, a subnet of another topo project; "
                                 "sandboxes would take addresses the host reaches elsewhere: choose another subnet");
    p.networks["frontend"].driver = Driver::Macvlan;
    p.networks["backend"].external = true;
    CHECK(allocate({&p, {}, {pfx("10.0.42.0/24")}, {pfx("10.0.0.0/16")}, {}}).errors.empty());
}

TEST_CASE("ipam: an exhausted range is an error naming the endpoint") {
    Project p;
    p.name = "x";
    p.networks["n"] = bridge_net("n", "10.2.0.0/24", "10.2.0.8/31");
    for (auto name : {"a", "b", "c"}) p.services[name] = svc(name, {ep("n")});
    auto r = run(p);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].path == "services.c.networks.n");
    CHECK(r.errors[0].message ==
          "no free IPv4 address left in 10.2.0.0/24 for this endpoint; widen ip_range or the subnet");
}

TEST_CASE("ipam: IPv6 subnets from the ULA pool, addresses lowest free") {
    Project p;
    p.name = "x";
    p.networks["n"] = bridge_net("n", "10.3.0.0/24");
    p.networks["n"].enable_ipv6 = true;
    p.services["a"] = svc("a", {ep("n")});
    auto r = run(p);
    REQUIRE(r.errors.empty());
    auto s6 = *r.addressing.networks["n"].subnet6;
    CHECK(s6.len == 64);
    CHECK(s6.addr.bytes[0] == 0xfd);
    CHECK(r.addressing.endpoint("a", "n")->v6 == s6.first_host().plus(1));
}

TEST_CASE("ipam: ephemeral host ports are stable and skip published ones") {
    Project p;
    p.name = "x";
    p.networks["n"] = bridge_net("n", "10.4.0.0/24");
    Service s = svc("a", {ep("n")});
    Port fixed;
    fixed.published = PortRange{49153, 49153};
    fixed.target = {80, 80};
    Port eph;
    eph.target = {3000, 3000};
    s.ports = {fixed, eph};
    p.services["a"] = s;
    auto r = run(p);
    REQUIRE(r.errors.empty());
    auto key = ephemeral_port_key("a", eph);
    CHECK(r.addressing.ephemeral_ports.at(key) == 49154);
    auto again = run(p, r.addressing);
    CHECK(again.addressing.ephemeral_ports.at(key) == 49154);
}
