// recover_addressing: the allocations read back from the kernel's markers.
#include <doctest/doctest.h>

#include "kernel/fake.hpp"
#include "reconcile/execute.hpp"
#include "reconcile/reconcile.hpp"
#include "reconcile/recover.hpp"
#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

namespace {

Computed compute_for(FakeKernel& k, const Project& p, Addressing prev = {}) {
    PlanInput in;
    in.project = &p;
    in.project_name = p.name;
    in.previous = std::move(prev);
    return compute(k, in);
}

Addressing apply(FakeKernel& k, const Project& p, Addressing prev = {}) {
    auto c = compute_for(k, p, std::move(prev));
    REQUIRE(c.errors.empty());
    REQUIRE(execute(k, c.plan.changes).ok());
    return c.addressing;
}

// Two dynamic services on a default-pool network, one with an ephemeral port.
Project pool_project() {
    Project p;
    p.name = "rec";
    p.networks["n"] = bridge_net("n");
    Service a = svc("a", {ep("n")});
    Port eph;
    eph.target = {8080, 8080};
    a.ports = {eph};
    p.services["a"] = a;
    p.services["b"] = svc("b", {ep("n")});
    return p;
}

}  // namespace

TEST_CASE("recover: subnets, gateways, addresses and ephemeral ports come back from the markers") {
    FakeKernel k;
    Project p = pool_project();
    auto applied = apply(k, p);
    auto got = recover_addressing(k.read(read_scope(p)), "rec", &p);
    REQUIRE(got.networks.count("n"));
    CHECK(got.networks["n"].subnet4 == applied.networks["n"].subnet4);
    CHECK(got.networks["n"].gateway4 == applied.networks["n"].gateway4);
    for (auto* s : {"a", "b"}) {
        CAPTURE(s);
        REQUIRE(got.endpoint(s, "n"));
        CHECK(got.endpoint(s, "n")->v4 == applied.endpoint(s, "n")->v4);
        CHECK(got.endpoint(s, "n")->ifname == "eth0");
    }
    auto key = ephemeral_port_key("a", p.services["a"].ports[0]);
    CHECK(got.ephemeral_ports.at(key) == applied.ephemeral_ports.at(key));
    SUBCASE("without the manifest, all but the ephemeral ports") {
        auto bare = recover_addressing(k.read(read_scope(p)), "rec", nullptr);
        CHECK(bare.endpoints.size() == 2);
        CHECK(bare.ephemeral_ports.empty());
    }
    SUBCASE("another project's objects are not taken for this one's") {
        CHECK(recover_addressing(k.read(read_scope(p)), "re", &p).endpoints.empty());
    }
}

TEST_CASE("recover: without a record, apply keeps the addresses the kernel holds") {
    FakeKernel k;
    Project only_b = pool_project();
    only_b.services.erase("a");
    auto first = apply(k, only_b);
    auto b_addr = *first.endpoint("b", "n")->v4;
    // With the record lost, a fresh allocation would hand b's address to a (lowest free, a first).
    Project both = pool_project();
    auto c = compute_for(k, both);
    REQUIRE(c.errors.empty());
    CHECK(*c.addressing.endpoint("b", "n")->v4 == b_addr);
    CHECK(*c.addressing.endpoint("a", "n")->v4 != b_addr);
    CHECK(c.addressing.networks["n"].subnet4 == first.networks["n"].subnet4);
    for (auto& ch : c.plan.changes) {
        CAPTURE(ch.id());
        CHECK(ch.action != Action::Delete);  // b is left as it is
    }
}

TEST_CASE("recover: overlay takes the kernel's allocations over the record's and keeps the rest") {
    Addressing record, live;
    record.endpoints[{"a", "n"}].v4 = ip("10.0.0.5");
    record.endpoints[{"c", "n"}].v4 = ip("10.0.0.9");
    record.networks["n"].subnet4 = pfx("10.0.0.0/24");
    live.endpoints[{"a", "n"}].v4 = ip("10.0.0.6");
    live.endpoints[{"a", "n"}].ifname = "eth0";
    auto got = overlay(record, live);
    CHECK(*got.endpoint("a", "n")->v4 == ip("10.0.0.6"));
    CHECK(*got.endpoint("c", "n")->v4 == ip("10.0.0.9"));
    CHECK(got.networks["n"].subnet4 == pfx("10.0.0.0/24"));
}

TEST_CASE("recover: a port published by number is not taken for the ephemeral one beside it") {
    FakeKernel k;
    Project p = pool_project();
    Port fixed;
    fixed.published = PortRange{49153, 49153};
    fixed.target = {8080, 8080};
    p.services["a"].ports.insert(p.services["a"].ports.begin(), fixed);  // the same target as the ephemeral one
    auto applied = apply(k, p);
    auto key = ephemeral_port_key("a", p.services["a"].ports[1]);
    REQUIRE(applied.ephemeral_ports.at(key) == 49154);
    auto got = recover_addressing(k.read(read_scope(p)), "rec", &p);
    CHECK(got.ephemeral_ports.at(key) == 49154);
}

TEST_CASE("recover: a run without a record reads the host once, and plans as one with it") {
    FakeKernel k;
    Project p = pool_project();
    auto applied = apply(k, p);
    k.state.add(Sysctl{"", "net/ipv4/ip_forward", "0"});  // drift, seen by the judged-again read
    size_t before = k.whole_observations;
    auto without = compute_for(k, p);
    CHECK(k.whole_observations == before + 1);
    auto with = compute_for(k, p, applied);
    REQUIRE(without.errors.empty());
    CHECK(without.addressing.networks["n"].subnet4 == applied.networks["n"].subnet4);
    REQUIRE(without.plan.changes.size() == 1);
    CHECK(without.plan.changes[0].id() == "net/ipv4/ip_forward");
    REQUIRE(with.plan.changes.size() == 1);
    CHECK(with.plan.changes[0].id() == without.plan.changes[0].id());
}
