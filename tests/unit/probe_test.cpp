// topo probe's promises (reconcile/probe.hpp): which probes a manifest makes
// and what each must come to, and the verdict with its causes.
#include "reconcile/probe.hpp"

#include <doctest/doctest.h>

#include <algorithm>

#include "manifest_helpers.hpp"

using namespace topo;

namespace {

Project load(std::string_view text) { return test::parse_manifest(text); }

const char* shop = R"(name: shop
networks:
  front: {ipam: {config: [{subnet: 10.30.0.0/24}]}}
  back: {ipam: {config: [{subnet: 10.31.0.0/24}]}}
  quiet:
    driver_opts: {com.docker.network.bridge.enable_icc: "false"}
    ipam: {config: [{subnet: 10.33.0.0/24}]}
services:
  web: {networks: [front], ports: ["8080:80", "127.0.0.1:9090:90", "53:53/udp"]}
  client: {networks: [front]}
  db: {networks: [back]}
  a: {networks: [quiet]}
  b: {networks: [quiet]}
)";

// The plan of a project on an empty host (the addressing a probe uses).
Computed computed(const Project& p) {
    auto c = test::plan_on_empty_host(p);
    REQUIRE(c.errors.empty());
    return c;
}

size_t count(const ProbePlan& p, const std::string& table, bool reach) {
    return size_t(std::count_if(p.expect.begin(), p.expect.end(), [&](auto& e) { return e.table == table && e.reach == reach; }));
}

}  // namespace

TEST_CASE("probe: pairs on a network reach, pairs across networks and without icc do not; ports at each host address") {
    auto p = load(shop);
    auto c = computed(p);
    auto host = *IpAddr::parse("198.51.100.1");
    auto plan = probe_plan(p, c.addressing, "", {host}, {}, std::chrono::milliseconds(500));
    REQUIRE(plan.run.probes.size() == plan.expect.size());
    CHECK(plan.run.timeout == std::chrono::milliseconds(500));
    CHECK(count(plan, "network front", true) == 4);   // web ⇄ client, TCP and ping
    CHECK(count(plan, "network quiet", false) == 4);  // a ⇄ b blocked by enable_icc: false
    // Across networks: web, client ⇄ db, a, b and db ⇄ a, b: 16 ordered pairs, TCP and ping.
    CHECK(count(plan, "isolation", false) == 32);
    CHECK(count(plan, "isolation", true) == 0);
    // 8080 answers at the host's address and 127.0.0.1, and through hairpin;
    // 9090 at 127.0.0.1 only; the UDP port is not probed.
    CHECK(count(plan, "ports", true) == 4);
    CHECK(count(plan, "ports", false) == 1);
    auto unanswered = std::find_if(plan.expect.begin(), plan.expect.end(), [](auto& e) { return e.table == "ports" && !e.reach; });
    CHECK(unanswered->what == "9090/tcp at 198.51.100.1");
    // Every sandbox reaches the host's address outside the project's networks (none is internal).
    CHECK(count(plan, "egress", true) == 5);
    CHECK(count(plan, "egress", false) == 0);
    // The listeners: the probe port in every sandbox and the host, and 80 and 90 in web.
    CHECK(plan.run.listeners.size() == 8);
    // To and from db, and db's way out.
    CHECK(probe_plan(p, c.addressing, "", {host}, {"db"}, std::chrono::milliseconds(500)).expect.size() == 17);

    // The verdict: what came back against what was expected, with the plan's drift on the path as the cause.
    std::vector<ProbeOutcome> got;
    for (auto& e : plan.expect) got.push_back({e.reach, e.reach ? "connected" : "no answer"});
    auto fine = judge_probes(plan, got, c, {}, "topo-shop");
    // Every probe as expected; but nothing was applied, so each sandbox's hosts file is missing.
    CHECK(fine.broken == 5);
    CHECK(std::all_of(fine.findings.begin(), fine.findings.end(), [](auto& x) { return x.ok || !x.expect; }));
    auto names = std::find_if(fine.findings.begin(), fine.findings.end(), [](auto& x) { return x.sandbox == "shop-web"; });
    REQUIRE(names != fine.findings.end());
    CHECK(names->causes == std::vector<std::string>{"/etc/netns/shop-web/hosts is missing"});
    auto broken_at = std::find_if(plan.expect.begin(), plan.expect.end(), [](auto& e) { return e.from == "client" && e.to == "web"; });
    got[size_t(broken_at - plan.expect.begin())] = {false, "no answer in 500 ms"};
    BaseChain other{"inet", "user", "fwd", "forward", -10, "drop", 0};
    auto r = judge_probes(plan, got, c, {other}, "topo-shop");
    auto f = std::find_if(r.findings.begin(), r.findings.end(), [](auto& x) { return !x.ok && x.expect; });
    REQUIRE(f != r.findings.end());
    CHECK(f->expect->from == "client");
    CHECK(std::any_of(f->causes.begin(), f->causes.end(), [](auto& s) { return s.starts_with("topo would change: + netns shop-client"); }));
    CHECK(std::any_of(f->causes.begin(), f->causes.end(),
                      [](auto& s) { return s == "table inet user, chain fwd (forward hook, priority -10, 0 rules, policy drop) also sees these packets"; }));
}

TEST_CASE("probe: a port bound to 0.0.0.0 is promised in IPv4 alone; hairpin is blocked where enable_icc is false") {
    auto p = load(R"(name: shop
networks:
  dual: {enable_ipv6: true, ipam: {config: [{subnet: 10.40.0.0/24}, {subnet: "fd00:40::/64"}]}}
  quiet:
    driver_opts: {com.docker.network.bridge.enable_icc: "false"}
    ipam: {config: [{subnet: 10.41.0.0/24}]}
services:
  web: {networks: [dual], ports: ["0.0.0.0:8081:80", "8082:80"]}
  q: {networks: [quiet], ports: ["8083:80"]}
  r: {networks: [quiet]}
)");
    auto c = computed(p);
    auto plan = probe_plan(p, c.addressing, "", {*IpAddr::parse("198.51.100.1"), *IpAddr::parse("2001:db8::1")}, {},
                           std::chrono::milliseconds(500));
    auto has = [&](const std::string& what, bool reach) {
        return std::any_of(plan.expect.begin(), plan.expect.end(), [&](auto& e) { return e.what == what && e.reach == reach; });
    };
    CHECK(has("8081/tcp at 198.51.100.1", true));
    CHECK_FALSE(has("8081/tcp at [2001:db8::1]", true));  // 0.0.0.0 is IPv4 alone
    CHECK(has("8082/tcp at [2001:db8::1]", true));        // no host_ip: both families
    CHECK(has("8083/tcp at 198.51.100.1 (hairpin)", false));  // through the host and back: icc off drops it
}
