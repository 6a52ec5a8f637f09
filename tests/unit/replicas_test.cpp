// Replicas (manifest/replicas.cpp, and the firewall's slot maps): a service
// with deploy.replicas, scale or --scale is N sandboxes behind one balanced
// port, and scaling keeps the survivors.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "kernel/fake.hpp"
#include "manifest/manifest.hpp"
#include "reconcile/firewall.hpp"
#include "reconcile/names.hpp"
#include "reconcile/reconcile.hpp"

using namespace topo;

namespace {

const char* shop = R"(name: shop
networks:
  front: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
services:
  web:
    networks: [front]
    deploy: {replicas: 3}
    ports: ["8080:80"]
  client:
    networks: [front]
)";

Project load(std::string_view text, std::map<std::string, int> scale = {}) {
    manifest::LoadOptions o;
    o.variables = std::map<std::string, std::string>{};
    o.scale = std::move(scale);
    return manifest::parse(text, "m.yaml", o);
}

std::vector<std::string> errors(std::string_view text, std::map<std::string, int> scale = {}) {
    std::vector<std::string> out;
    try {
        load(text, std::move(scale));
    } catch (const manifest::ManifestError& e) {
        for (auto& err : e.errors()) out.push_back(err.str());
    }
    return out;
}

// The addresses behind each slot of host port 8080/tcp.
std::map<int, std::string> slots(const NftTable& t) {
    std::map<int, std::string> out;
    for (auto& text : t.sets.at("balanced").elements) {
        auto e = PortElement::parse(text);
        REQUIRE(e);
        REQUIRE(e->slot);
        if (e->port == 8080) out[*e->slot] = e->address.str();
    }
    return out;
}

}  // namespace

TEST_CASE("replicas: a service becomes <service>-1..N, each answering the service's names, replica 1 carrying its ports") {
    auto p = load(shop);
    CHECK(!p.services.count("web"));
    for (int i = 1; i <= 3; ++i) {
        auto& r = p.services.at(fmt::format("web-{}", i));
        REQUIRE(r.replica_of);
        CHECK(r.replica_of->service == "web");
        CHECK(r.replica_of->index == i);
        CHECK(r.replica_of->count == 3);
        CHECK(r.hostname == fmt::format("web-{}", i));
        CHECK(r.endpoints.at(0).aliases == std::vector<std::string>{"web", fmt::format("shop-web-{}", i)});
        CHECK(r.ports.size() == (i == 1 ? 1u : 0u));
    }
    CHECK(load(shop, {{"web", 5}}).services.count("web-5"));  // --scale over the manifest
    auto none = load(shop, {{"web", 0}});
    CHECK(std::none_of(none.services.begin(), none.services.end(), [](auto& s) { return s.first.starts_with("web"); }));
    std::string scaled = shop;
    scaled.replace(scaled.find("deploy: {replicas: 3}"), 21, "scale: 2");
    CHECK(load(scaled).services.count("web-2"));
}

TEST_CASE("replicas: what cannot be replicated is refused at its key") {
    auto e = errors(R"(name: shop
networks:
  front: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
services:
  web:
    scale: 2
    deploy: {replicas: 3}
    networks:
      front: {ipv4_address: 10.5.0.10}
  side: {network_mode: "service:web"}
  web-1: {networks: [front]}
)");
    std::vector<std::string> want = {
        "m.yaml:6:12: services.web.scale: scale 2 and deploy.replicas 3 disagree; keep one of them",
        "m.yaml:10:24: services.side.network_mode: service web has replicas, each its own sandbox: say which to share by "
        "running this one as a replica too, or give web no replicas",
        "m.yaml:6:12: services.web: replica 1 of web would have the name of service web-1; rename one of them",
        "m.yaml:9:29: services.web.networks.front.ipv4_address: 2 replicas cannot share one ipv4_address; remove it "
        "(IPAM gives each replica its own) or the replicas",
    };
    for (auto& w : want) CHECK_MESSAGE(std::find(e.begin(), e.end(), w) != e.end(), w);
    CHECK(e.size() == want.size());
    auto scale = errors(shop, {{"nobody", 2}});
    REQUIRE(scale.size() == 1);
    CHECK(scale[0] == "m.yaml: --scale: no service named \"nobody\" to scale");
    auto many = errors(shop, {{"web", 241}});
    REQUIRE(many.size() == 1);
    CHECK(many[0] == "m.yaml:7:24: services.web.deploy.replicas: 241 replicas behind published ports: at most 240 can share a port");
}

TEST_CASE("replicas: the port's slots spread evenly, and scaling changes elements, never the rules") {
    FakeKernel k;
    auto plan = [&](const Project& p, Addressing prev) {
        PlanInput in;
        in.project = &p;
        in.project_name = p.name;
        in.previous = std::move(prev);
        return compute(k, in);
    };
    auto three = load(shop);
    auto c3 = plan(three, {});
    REQUIRE(c3.errors.empty());
    auto fw3 = firewall(three, c3.addressing, "");
    auto s3 = slots(*fw3.table);
    REQUIRE(s3.size() == 240);
    std::map<std::string, int> per;
    for (auto& [slot, addr] : s3) per[addr]++;
    CHECK(per.size() == 3);
    for (auto& [addr, n] : per) CHECK(n == 80);
    CHECK(s3.at(0) == c3.addressing.endpoint("web-1", "front")->v4->str());
    CHECK(s3.at(4) == c3.addressing.endpoint("web-2", "front")->v4->str());
    // Every name file lists each replica under the service's name.
    auto hosts = hosts_file(three, c3.addressing, three.services.at("client"));
    for (int i = 1; i <= 3; ++i)
        CHECK(hosts.find(fmt::format("{}\tweb-{} web shop-web-{}", c3.addressing.endpoint(fmt::format("web-{}", i), "front")->v4->str(), i, i)) !=
              std::string::npos);

    auto five = load(shop, {{"web", 5}});
    auto c5 = plan(five, c3.addressing);
    REQUIRE(c5.errors.empty());
    for (int i = 1; i <= 3; ++i) {
        auto name = fmt::format("web-{}", i);
        CHECK(*c5.addressing.endpoint(name, "front") == *c3.addressing.endpoint(name, "front"));  // survivors keep theirs
    }
    auto fw5 = firewall(five, c5.addressing, "");
    CHECK(fw5.table->skeleton() == fw3.table->skeleton());
    std::map<std::string, int> per5;
    for (auto& [slot, addr] : slots(*fw5.table)) per5[addr]++;
    CHECK(per5.size() == 5);
    for (auto& [addr, n] : per5) CHECK(n == 48);
}
