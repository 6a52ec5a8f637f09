// The manifest reader: valid manifests and their defaults.
#include "manifest/manifest.hpp"
#include "manifest/reader.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <utility>

using namespace topo;
using topo::manifest::parse;

static Project ok(const std::string& text) { return parse(text, "proj/net.yaml"); }

TEST_CASE("manifest: the spec's example parses with its defaults") {
    auto p = ok(R"(name: shop
networks:
  frontend:
    driver: bridge
    ipam:
      config:
        - subnet: 10.0.42.0/24
          ip_range: 10.0.42.128/25
          gateway: 10.0.42.1
          aux_addresses: {router: 10.0.42.5}
    labels: {team: web}
  backend:
    internal: true
  lan:
    driver: macvlan
    driver_opts: {parent: eth1, macvlan_mode: bridge}
    ipam: {config: [{subnet: 192.168.1.0/24, gateway: 192.168.1.1, ip_range: 192.168.1.192/27}]}
  mesh:
    driver: overlay
    driver_opts: {vxlan_id: 4242}
    ipam: {config: [{subnet: 10.10.0.0/16}]}
hosts:
  node1: {address: 192.0.2.10}
  node2: {address: 192.0.2.11}
services:
  web:
    host: node1
    networks:
      frontend:
        ipv4_address: 10.0.42.130
        aliases: [www, shop]
      mesh: {}
    ports:
      - "8080:80"
      - "127.0.0.1:9090:90"
      - "5353:53/udp"
      - "8000-8002:7000-7002"
      - target: 443
        published: "8443"
        protocol: tcp
        host_ip: 0.0.0.0
    dns: [10.0.42.5]
    dns_search: [shop.internal]
    extra_hosts: ["legacy.db:10.0.42.6"]
  db:
    host: node1
    image: postgres
    networks: [backend, frontend]
  worker: {host: node1}
)");
    CHECK(p.name == "shop");
    CHECK(p.networks.size() == 5);  // with the implicit default network for worker
    CHECK(p.networks.at("default").implicit);
    CHECK(p.networks.at("backend").internal);
    CHECK_FALSE(p.networks.at("backend").enable_masquerade);
    CHECK(p.networks.at("lan").driver == Driver::Macvlan);
    CHECK(p.networks.at("lan").parent == "eth1");
    CHECK(p.networks.at("mesh").vxlan_id == 4242u);
    auto& web = p.services.at("web");
    REQUIRE(web.endpoints.size() == 2);
    CHECK(web.endpoints[0].network == "frontend");
    CHECK(web.endpoints[0].interface_name == "eth0");
    CHECK(web.endpoints[1].interface_name == "eth1");
    CHECK(web.endpoints[0].aliases == std::vector<std::string>{"www", "shop"});
    REQUIRE(web.ports.size() == 5);
    CHECK(web.ports[1].host_ip->str() == "127.0.0.1");
    CHECK(web.ports[2].protocol == Protocol::Udp);
    CHECK(web.ports[3].published->first == 8000);
    CHECK(web.ports[3].target.last == 7002);
    CHECK(web.ports[4].published->first == 8443);
    CHECK(web.extra_hosts[0].first == "legacy.db");
    CHECK(p.services.at("db").endpoints[0].network == "backend");
    CHECK(p.services.at("worker").endpoints[0].network == "default");
    CHECK(p.hosts.size() == 2);
}

TEST_CASE("manifest: the project name defaults to the directory, normalized like Compose") {
    auto p = parse("services: {a: {}}\n", "/tmp/My_Shop.v2/docker-compose.yml");
    CHECK(p.name == "my_shopv2");
    auto q = parse("services: {a: {}}\n", "x/net.yaml", {.project = "other"});
    CHECK(q.name == "other");
}

TEST_CASE("manifest: interfaces are numbered by priority, then network name") {
    auto p = ok(R"(networks: {a: {}, b: {}, c: {}}
services:
  s:
    networks:
      a: {}
      b: {priority: 10}
      c: {interface_name: eth0}
)");
    auto& e = p.services.at("s").endpoints;
    CHECK(e[0].network == "b");
    CHECK(e[0].interface_name == "eth1");
    CHECK(e[1].network == "a");
    CHECK(e[1].interface_name == "eth2");
    CHECK(e[2].interface_name == "eth0");
}

TEST_CASE("manifest: only services without networks join the default network") {
    auto p = ok("networks: {lan: {}}\nservices:\n  a: {networks: [lan]}\n  b: {networks: [lan]}\n  c: {}\n");
    CHECK(p.services.at("a").endpoints.size() == 1);
    CHECK(p.services.at("b").endpoints.size() == 1);  // regression: yaml-cpp node assignment
    CHECK(p.services.at("c").endpoints[0].network == "default");
}

TEST_CASE("manifest: network modes, hosts and Compose-only keys") {
    auto p = ok(R"(version: "3.9"
x-common: {a: 1}
volumes: {data: {}}
services:
  app: {image: nginx, environment: {A: b}, restart: always, depends_on: [db]}
  db: {network_mode: "service:app"}
  tool: {network_mode: none}
  hostnet: {network_mode: host}
)");
    CHECK(p.services.at("db").mode == NetworkMode::Service);
    CHECK(p.services.at("db").mode_service == "app");
    CHECK(p.services.at("tool").mode == NetworkMode::None);
    CHECK(p.services.at("hostnet").mode == NetworkMode::Host);
    CHECK(p.services.at("tool").endpoints.empty());
}

TEST_CASE("manifest: ports in short and long syntax") {
    auto p = ok(R"(networks:
  v6: {enable_ipv6: true, ipam: {config: [{subnet: "fd00:1::/64"}]}}
services:
  s:
    networks: [v6]
    ports: ["3000", "[2001:db8::1]:8080:80", "127.0.0.1::53/udp", 9000, {target: 81, published: 8000-8000, protocol: sctp},
            {target: 22, published: 2222, x-topo-take-over: true}]
)");
    auto& ports = p.services.at("s").ports;
    REQUIRE(ports.size() == 6);
    CHECK_FALSE(ports[4].take_over);
    CHECK(ports[5].take_over);
    CHECK_FALSE(ports[0].published);
    CHECK(ports[1].host_ip->str() == "2001:db8::1");
    CHECK_FALSE(ports[2].published);
    CHECK(ports[2].protocol == Protocol::Udp);
    CHECK(ports[3].target.first == 9000);
    CHECK(ports[4].protocol == Protocol::Sctp);
}

TEST_CASE("manifest: unimplemented com.docker options are warnings") {
    auto p = ok("networks:\n  n:\n    driver_opts: {com.docker.network.bridge.default_bridge: \"true\"}\nservices: {}\n");
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].message == "option com.docker.network.bridge.default_bridge is not implemented by topo and is ignored");
}

TEST_CASE("manifest: every example parses (under ASan, a regression test for a fuzzer find)") {
    // libFuzzer found a dangling reference to a yaml-cpp iterator temporary in
    // driver_opts parsing, on examples/lan-macvlan.yaml: visible only under ASan.
    namespace fs = std::filesystem;
    int parsed = 0;
    for (auto& f : fs::directory_iterator(fs::path(TOPO_SOURCE_DIR) / "examples")) {
        if (f.path().extension() != ".yaml") continue;
        CAPTURE(f.path().string());
        CHECK_NOTHROW(topo::manifest::load({f.path().string()}));
        ++parsed;
    }
    CHECK(parsed >= 5);
}

TEST_CASE("manifest: Compose's x- anchors and << merge keys") {
    auto p = ok(R"(x-web: &web
  networks: [front]
  dns: [192.0.2.53]
networks: {front: {}, back: {}}
services:
  a:
    <<: *web
  b:
    <<: *web
    networks: [back]
)");
    REQUIRE(p.services.at("a").endpoints.size() == 1);
    CHECK(p.services.at("a").endpoints[0].network == "front");
    CHECK(p.services.at("a").dns.size() == 1);
    REQUIRE(p.services.at("b").endpoints.size() == 1);
    CHECK(p.services.at("b").endpoints[0].network == "back");  // its own key wins
    CHECK(p.services.at("b").dns.size() == 1);
}

TEST_CASE("manifest: an error in a merged file names that file") {
    namespace fs = std::filesystem;
    auto dir = fs::temp_directory_path() / "topo-merge-test";
    fs::create_directories(dir);
    std::ofstream(dir / "base.yaml") << "name: m\nservices:\n  a: {}\n";
    std::ofstream(dir / "over.yaml") << "services:\n  a:\n    ports: [\"nonsense\"]\n";
    try {
        topo::manifest::load({(dir / "base.yaml").string(), (dir / "over.yaml").string()});
        FAIL("expected an error");
    } catch (const topo::manifest::ManifestError& e) {
        REQUIRE(e.errors().size() == 1);
        CHECK(e.errors()[0].str().starts_with((dir / "over.yaml").string() + ":3:13: services.a.ports[0]: "));
    }
    fs::remove_all(dir);
}
