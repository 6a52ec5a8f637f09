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
