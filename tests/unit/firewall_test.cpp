#include "reconcile/firewall.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "model/naming.hpp"
#include "reconcile/ipam.hpp"
#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

namespace {

Port port(const char* pub, uint16_t target, Protocol proto = Protocol::Tcp, const char* host_ip = nullptr) {
    Port p;
    auto dash = std::string(pub).find('-');
    uint16_t first = uint16_t(std::stoi(pub));
    uint16_t last = dash == std::string::npos ? first : uint16_t(std::stoi(std::string(pub).substr(dash + 1)));
    p.published = PortRange{first, last};
    p.target = {target, uint16_t(target + last - first)};
    p.protocol = proto;
    if (host_ip) p.host_ip = ip(host_ip);
    return p;
}

Firewall build(Project& p) { return firewall(p, allocate({&p, {}, {}, {}, {}}).addressing, ""); }

bool has_rule(const NftTable& t, const std::string& text) {
    return std::any_of(t.rules.begin(), t.rules.end(), [&](auto& r) { return r.text == text; });
}

}  // namespace

TEST_CASE("firewall: published ports become map elements to the first non-internal network") {
    Project p = shop();  // web: eth0 backend (internal), eth1 frontend 10.0.42.130
    p.services["web"].ports = {port("8080", 80), port("5353", 53, Protocol::Udp), port("8000-8001", 7000),
                               port("9090", 90, Protocol::Tcp, "127.0.0.1")};
    auto fw = build(p);
    REQUIRE(fw.table);
    CHECK(fw.table->sets.at("ports").elements ==
          std::set<std::string>{"tcp 8080 10.0.42.130 80", "udp 5353 10.0.42.130 53", "tcp 8000 10.0.42.130 7000",
                                "tcp 8001 10.0.42.130 7001"});
    CHECK(fw.table->sets.at("hostports").elements == std::set<std::string>{"127.0.0.1 tcp 9090 10.0.42.130 90"});
    CHECK(fw.sysctls.back().key == "net/ipv4/conf/" + naming::bridge("shop", "frontend") + "/route_localnet");
}

TEST_CASE("firewall: internal networks are not masqueraded and cannot forward") {
    Project p = shop();
    auto fw = build(p);
    auto front = naming::bridge("shop", "frontend"), back = naming::bridge("shop", "backend");
    CHECK(has_rule(*fw.table, "ip saddr 10.0.42.0/24 oifname != " + front + " masquerade"));
    CHECK_FALSE(has_rule(*fw.table, "ip saddr 10.0.43.0/24 oifname != " + back + " masquerade"));
    CHECK(has_rule(*fw.table, "iifname " + back + " drop (network backend is internal)"));
    CHECK(has_rule(*fw.table, "oifname " + back + " drop (network backend is internal)"));
    CHECK(fw.table->sets.at("bridges").elements == std::set<std::string>{back, front});
}

TEST_CASE("firewall: enable_ip_masquerade false drops the masquerade rule") {
    Project p = shop();
    p.networks["frontend"].enable_masquerade = false;
    auto fw = build(p);
    for (auto& r : fw.table->rules) CHECK(r.op != NftOp::Masquerade);
}

TEST_CASE("firewall: one changed port is one element out and one in") {
    Project p = shop();
    for (int i = 0; i < 1000; ++i) p.services["web"].ports.push_back(port(std::to_string(10000 + i).c_str(), 80));
    auto before = *build(p).table;
    p.services["web"].ports[500] = port("20500", 80);
    auto after = *build(p).table;
    CHECK(before.skeleton() == after.skeleton());
    auto d = element_diff(after, before);
    REQUIRE(d.size() == 1);
    CHECK(d[0].add == std::vector<std::string>{"tcp 20500 10.0.42.130 80"});
    CHECK(d[0].remove == std::vector<std::string>{"tcp 10500 10.0.42.130 80"});
}

TEST_CASE("firewall: forwarding is enabled after the rules, IPv6 forwarding only with IPv6") {
    Project p = shop();
    auto fw = build(p);
    REQUIRE(fw.sysctls.size() == 1);
    CHECK(fw.sysctls[0].key == "net/ipv4/ip_forward");
    p.networks["frontend"].enable_ipv6 = true;
    auto fw6 = build(p);
    CHECK(fw6.sysctls[1].key == "net/ipv6/conf/all/forwarding");
}

TEST_CASE("firewall: no bridge network, no table") {
    Project p;
    p.name = "x";
    Service s;
    s.name = "a";
    s.mode = NetworkMode::None;
    p.services["a"] = s;
    CHECK_FALSE(build(p).table);
}

namespace {

// shop, with frontend dual-stack (fd00:42::/64: web gets fd00:42::2).
Project shop6() {
    Project p = shop();
    with_ipv6(p.networks["frontend"], "fd00:42::/64");
    return p;
}

}  // namespace

TEST_CASE("firewall: a port without host_ip is published on IPv6 too when the sandbox has IPv6") {
    Project p = shop6();
    p.services["web"].ports = {port("8080", 80), port("30000", 3000, Protocol::Sctp)};
    auto fw = build(p);
    CHECK(fw.table->sets.at("ports").elements ==
          std::set<std::string>{"tcp 8080 10.0.42.130 80", "sctp 30000 10.0.42.130 3000"});
    CHECK(fw.table->sets.at("ports6").elements ==
          std::set<std::string>{"tcp 8080 fd00:42::2 80", "sctp 30000 fd00:42::2 3000"});
    CHECK(fw.table->sets.at("ports6").layout == NftLayout::ProtoPortToAddr6);
    CHECK(fw.table->sets.at("hostports6").layout == NftLayout::AddrProtoPortToAddr6);
    for (auto* chain : {"prerouting", "output"}) {
        CAPTURE(chain);
        auto it = std::find_if(fw.table->rules.begin(), fw.table->rules.end(), [&](auto& r) {
            return r.chain == chain && r.text == "ip6 daddr != ::1 fib daddr type local dnat ip6 to meta l4proto . th dport map @ports6";
        });
        REQUIRE(it != fw.table->rules.end());
        CHECK(it->op == NftOp::DnatPorts);
        CHECK(it->family == 6);
        CHECK(it->set == "ports6");
    }
    auto front = naming::bridge("shop", "frontend");
    CHECK(has_rule(*fw.table, "oifname " + front + " ip6 saddr fd00:42::/64 ct status dnat masquerade (hairpin)"));
    CHECK(fw.sysctls[1].key == "net/ipv6/conf/all/forwarding");
}

TEST_CASE("firewall: a host_ip publishes in its own family only; 0.0.0.0 and :: are every address") {
    Project p = shop6();
    p.services["web"].ports = {port("8080", 80, Protocol::Tcp, "2001:db8::1"), port("8081", 81, Protocol::Tcp, "::"),
                               port("8082", 82, Protocol::Tcp, "0.0.0.0"), port("8083", 83, Protocol::Udp, "192.0.2.1")};
    auto fw = build(p);
    auto& sets = fw.table->sets;
    CHECK(sets.at("hostports6").elements == std::set<std::string>{"2001:db8::1 tcp 8080 fd00:42::2 80"});
    CHECK(sets.at("ports6").elements == std::set<std::string>{"tcp 8081 fd00:42::2 81"});
    CHECK(sets.at("ports").elements == std::set<std::string>{"tcp 8082 10.0.42.130 82"});
    CHECK(sets.at("hostports").elements == std::set<std::string>{"192.0.2.1 udp 8083 10.0.42.130 83"});
}

TEST_CASE("firewall: without IPv6 on the target network, ports are IPv4 only") {
    Project p = shop();
    p.services["web"].ports = {port("8080", 80)};
    auto fw = build(p);
    CHECK(fw.table->sets.at("ports").elements.size() == 1);
    CHECK(fw.table->sets.at("ports6").elements.empty());
}

TEST_CASE("firewall: enable_icc false drops traffic within the network, first in the forward chain") {
    Project p = shop();
    p.networks["frontend"].enable_icc = false;
    auto fw = build(p);
    auto front = naming::bridge("shop", "frontend"), back = naming::bridge("shop", "backend");
    auto& rules = fw.table->rules;
    auto it = std::find_if(rules.begin(), rules.end(), [](auto& r) { return r.chain == "forward"; });
    REQUIRE(it != rules.end());
    auto& first = *it;  // before established/DNATed traffic is accepted
    CHECK(first.op == NftOp::DropWithin);
    CHECK(first.ifname == front);
    CHECK(first.text == "iifname " + front + " oifname " + front + " drop (network frontend has enable_icc false)");
    CHECK_FALSE(has_rule(*fw.table, "iifname " + front + " oifname " + front + " accept (within network frontend)"));
    CHECK(has_rule(*fw.table, "iifname " + back + " oifname " + back + " accept (within network backend)"));
    CHECK(has_rule(*fw.table, "iifname @bridges oifname tb* drop (isolation)"));
}
