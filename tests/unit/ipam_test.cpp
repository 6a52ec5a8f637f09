#include "reconcile/ipam.hpp"

#include <doctest/doctest.h>

#include <random>

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

TEST_CASE("ipam: a watch's allocation of the touched services alone is allocate()'s, after random edits") {
    std::mt19937 rng(11);
    Project p;
    p.name = "r";
    p.networks["a"] = bridge_net("a", "10.1.0.0/24", "10.1.0.0/26");
    with_ipv6(p.networks["a"], "fd00:1::/64");
    p.networks["a"].ipv4->aux_addresses["router"] = ip("10.1.0.5");
    p.networks["b"] = bridge_net("b", "10.2.0.0/28");  // 13 addresses: exhausted now and then
    const std::vector<std::string> nets{"a", "b"};
    auto place = [&](Project& q, const std::string& name) {
        auto net = nets[rng() % 2];
        std::vector<Endpoint> eps{ep(net)};
        if (rng() % 3 == 0) eps[0].ipv4_address = ip(fmt::format("10.{}.0.{}", net == "a" ? 1 : 2, 2 + rng() % 12).c_str());
        if (rng() % 4 == 0) eps.push_back(ep(net == "a" ? "b" : "a", "eth1"));
        q.services[name] = svc(name, eps);
        if (rng() % 5 == 0) {
            Port port;
            port.published = PortRange{uint16_t(8000 + rng() % 20), uint16_t(8000 + rng() % 20)};
            port.published->last = port.published->first;
            port.target = PortRange{80, 80};
            q.services[name].ports.push_back(port);
        }
    };
    for (int i = 0; i < 8; ++i) place(p, fmt::format("s{}", i));
    auto last = run(p);
    while (!last.errors.empty()) {  // a first manifest that allocates
        p.services.clear();
        for (int i = 0; i < 8; ++i) place(p, fmt::format("s{}", i));
        last = run(p);
    }
    int used = 0, refused = 0;
    for (int round = 0; round < 600; ++round) {
        CAPTURE(round);
        Project next = p;
        std::set<std::string> touched;
        for (int edits = 1 + rng() % 2; edits > 0; --edits) {
            std::vector<std::string> names;
            for (auto& [name, _] : next.services) names.push_back(name);
            auto name = names[rng() % names.size()];
            switch (rng() % 6) {
                case 0: name = fmt::format("n{}", round); place(next, name); break;  // added
                case 1: if (names.size() > 3) next.services.erase(name); break;      // removed
                case 2: place(next, name); break;                                    // rewritten
                case 3: next.services[name].endpoints[0].ipv4_address.reset(); break;
                case 4: next.services[name].endpoints[0].ipv4_address = ip(fmt::format("10.{}.0.{}", next.services[name].endpoints[0].network == "a" ? 1 : 2, 2 + rng() % 12).c_str()); break;
                case 5: next.services[name].endpoints[0].mac_address = Mac::from_ipv4(ip("10.9.9.9")); break;
            }
            touched.insert(name);
        }
        // The manifest reader refuses one static address twice on a network.
        std::set<std::pair<std::string, IpAddr>> statics;
        bool twice = false;
        for (auto& [_, s] : next.services)
            for (auto& e : s.endpoints)
                if (e.ipv4_address) twice |= !statics.insert({e.network, *e.ipv4_address}).second;
        if (twice) continue;
        auto whole = run(next, last.addressing);
        auto kept = last.addressing;
        IpamInput in{&next, {}, {}, {}, {}};
        in.previous.networks = kept.networks;
        auto since = allocate_since(in, kept, touched, p);
        if (!since) {
            ++refused;
            CHECK(kept == last.addressing);  // untouched
        } else {
            ++used;
            CHECK(whole.errors.empty());
            CHECK(since->result.addressing == whole.addressing);
            CHECK(since->same == (whole.addressing == last.addressing));
            for (auto& [key, e] : last.addressing.endpoints)
                if (touched.count(key.first)) CHECK(since->before.endpoint(key.first, key.second));
        }
        if (!whole.errors.empty()) continue;  // the manifest is refused: the host keeps the last
        p = std::move(next);
        last = std::move(whole);
    }
    CHECK(used > 300);
    CHECK(refused > 20);
}
