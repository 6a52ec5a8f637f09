#include "reconcile/graph.hpp"

#include <doctest/doctest.h>

#include "manifest/manifest.hpp"
#include "model/naming.hpp"
#include "reconcile/ipam.hpp"
#include "test_helpers.hpp"

using namespace topo;
using namespace topo::test;

namespace {

std::string draw(const Project& p, GraphFormat f, Addressing previous = {}) {
    auto r = allocate({&p, std::move(previous), {}, {}, {}});
    REQUIRE(r.errors.empty());
    return graph(p, r.addressing, f);
}

bool has(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return true;
    MESSAGE("not found: " << part << "\nin:\n" << text);
    return false;
}

size_t count(const std::string& text, const std::string& part) {
    size_t n = 0;
    for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
    return n;
}

}  // namespace

TEST_CASE("graph: networks, sandboxes and endpoints with the addresses apply gives") {
    auto p = manifest::parse(R"(
name: shop
networks:
  frontend:
    ipam: {config: [{subnet: 10.0.42.0/24, ip_range: 10.0.42.128/25}]}
  backend:
    internal: true
    ipam: {config: [{subnet: 10.0.43.0/24}]}
  lan:
    driver: macvlan
    driver_opts: {parent: eth1}
    ipam: {config: [{subnet: 192.168.1.0/24}]}
  spare: {}
services:
  web:
    networks:
      frontend: {ipv4_address: 10.0.42.130, aliases: [www, shop]}
      backend: {}
    ports: ["8080:80", "127.0.0.1:9090:90/udp", "7000-7001:8000-8001", "81"]
  db:
    networks: [backend, lan]
  sidecar:
    network_mode: "service:web"
  agent:
    network_mode: host
  idle:
    network_mode: none
)", "shop.yaml");
    auto dot = draw(p, GraphFormat::Dot);
    auto bridge = naming::bridge("shop", "frontend");
    CHECK(has(dot, "graph \"project shop\" {"));
    CHECK(has(dot, "\"net/frontend\" [label=\"frontend\\nbridge " + bridge +
                       "\\n10.0.42.0/24 gateway 10.0.42.1\", shape=box, style=\"filled\""));
    CHECK(has(dot, "\"net/backend\" [label=\"backend\\nbridge " + naming::bridge("shop", "backend") +
                       "\\n10.0.43.0/24 gateway 10.0.43.1\\ninternal\""));
    CHECK(has(dot, "label=\"lan\\nmacvlan (bridge) on eth1\\n192.168.1.0/24 gateway 192.168.1.1\""));
    // A network no service joins is drawn all the same.
    CHECK(has(dot, "\"net/spare\" [label=\"spare\\nbridge"));
    CHECK(has(dot, "\"svc/web\" [label=\"web\\nnetns shop-web\", shape=box, style=\"rounded\"]"));
    CHECK(has(dot, "\"svc/idle\" [label=\"idle\\nnetns shop-idle\\nnetwork_mode: none\""));
    // Endpoints: interface, address (static, or IPAM's lowest free), aliases.
    CHECK(has(dot, "\"svc/web\" -- \"net/frontend\" [label=\"eth1 10.0.42.130\\naliases: www, shop\"]"));
    CHECK(has(dot, "\"svc/db\" -- \"net/backend\" [label=\"eth0 10.0.43.2\"]"));
    CHECK(has(dot, "\"svc/web\" -- \"net/backend\" [label=\"eth0 10.0.43.3\"]"));
    CHECK(has(dot, "\"svc/db\" -- \"net/lan\" [label=\"eth1 192.168.1.2\"]"));
    // Published ports: one arrow from the host, a line per port.
    CHECK(has(dot, "\"host/\" [label=\"host\", shape=hexagon]"));
    CHECK(has(dot, "\"host/\" -- \"svc/web\" [label=\"8080 → 80/tcp\\n127.0.0.1:9090 → 90/udp\\n"
                   "7000-7001 → 8000-8001/tcp\\n49153 (ephemeral) → 81/tcp\", dir=forward]"));
    // Services without a sandbox of their own.
    CHECK(has(dot, "\"svc/sidecar\" -- \"svc/web\" [label=\"shares the sandbox\", style=dashed]"));
    CHECK(has(dot, "\"svc/agent\" -- \"host/\" [label=\"network_mode: host\", style=dashed]"));
    CHECK(has(dot, "\"svc/agent\" [label=\"agent\", shape=box, style=\"rounded,dashed\"]"));
    CHECK(count(dot, "\"host/\" [label=\"host\"") == 1);  // one host node for ports and host-mode services
    CHECK(dot.ends_with("}\n"));

    SUBCASE("an ephemeral port is the one the record holds") {
        Addressing prev;
        prev.ephemeral_ports[ephemeral_port_key("web", p.services["web"].ports[3])] = 50000;
        CHECK(has(draw(p, GraphFormat::Dot, prev), "\\n50000 (ephemeral) → 81/tcp\""));
    }

    SUBCASE("mermaid: the same picture with plain IDs") {
        auto m = draw(p, GraphFormat::Mermaid);
        CHECK(m.starts_with("%% topo graph, project shop"));
        CHECK(has(m, "\nflowchart LR\n"));
        CHECK(has(m, "[\"frontend<br/>bridge " + bridge + "<br/>10.0.42.0/24 gateway 10.0.42.1\"]"));
        CHECK(has(m, "([\"web<br/>netns shop-web\"])"));
        CHECK(has(m, "{{\"host\"}}"));
        CHECK(has(m, " ---|\"eth1 10.0.42.130<br/>aliases: www, shop\"| n"));
        CHECK(has(m, " -->|\"8080 → 80/tcp<br/>"));
        CHECK(has(m, " -.-|\"shares the sandbox\"| n"));
        CHECK(count(m, "stroke-dasharray") == 2);  // agent, sidecar
    }
}

TEST_CASE("graph: several hosts are clusters; an overlay spans them, a bridge is in its host") {
    auto p = manifest::parse(R"(
name: mesh
hosts:
  node1: {address: 192.0.2.10}
  node2: {address: 192.0.2.11}
networks:
  mesh:
    driver: overlay
    driver_opts: {vxlan_id: 4242}
    ipam: {config: [{subnet: 10.10.0.0/16}]}
  local:
    ipam: {config: [{subnet: 10.11.0.0/24}]}
  lan2:
    ipam: {config: [{subnet: 10.12.0.0/24}]}
services:
  api: {host: node1, networks: [mesh, local], ports: ["8080:80"]}
  db: {host: node2, networks: [mesh, lan2]}
  worker: {host: node2, networks: [mesh]}
)", "mesh.yaml");
    auto dot = draw(p, GraphFormat::Dot);
    CHECK(has(dot, "subgraph \"cluster_0\" {\n    label=\"host node1 (192.0.2.10)\";\n"));
    CHECK(has(dot, "subgraph \"cluster_1\" {\n    label=\"host node2 (192.0.2.11)\";\n"));
    CHECK(count(dot, "\"net/mesh\" [label=\"mesh\\noverlay: VXLAN 4242 port 4789\\n10.10.0.0/16") == 1);
    CHECK(has(dot, "    \"node1/net/local\" [label=\"local\\nbridge"));
    CHECK(has(dot, "    \"node2/net/lan2\" [label=\"lan2\\nbridge"));
    CHECK(dot.find("\"net/local\"") == std::string::npos);  // used on a host: no host-less copy
    CHECK(has(dot, "\"svc/db\" -- \"node2/net/lan2\""));
    CHECK(has(dot, "\"svc/worker\" -- \"net/mesh\""));
    CHECK(has(dot, "    \"host/node1\" [label=\"node1\\n192.0.2.10\", shape=hexagon]"));
    CHECK(has(dot, "\"host/node1\" -- \"svc/api\" [label=\"8080 → 80/tcp\", dir=forward]"));
    auto m = draw(p, GraphFormat::Mermaid);
    CHECK(has(m, "  subgraph c0[\"host node1 (192.0.2.10)\"]\n"));
    CHECK(count(m, "  end\n") == 2);
}

TEST_CASE("graph: labels are quoted for each language") {
    Project p = shop();
    p.services["web"].endpoints[0].aliases = {"we\"ird\\", "<b>#1"};
    auto dot = draw(p, GraphFormat::Dot);
    CHECK(has(dot, "aliases: we\\\"ird\\\\, <b>#1\""));
    auto m = draw(p, GraphFormat::Mermaid);
    CHECK(has(m, "aliases: we#quot;ird\\, #lt;b#gt;#35;1\""));
}

TEST_CASE("graph: a replicated service is drawn once, with its count and every replica's address") {
    manifest::LoadOptions o;
    o.variables = std::map<std::string, std::string>{};
    auto p = manifest::parse(R"(name: shop
networks:
  front: {ipam: {config: [{subnet: 10.5.0.0/24}]}}
services:
  web:
    networks: {front: {aliases: [www]}}
    scale: 3
    ports: ["8080:80"]
)",
                             "m.yaml", o);
    auto m = draw(p, GraphFormat::Mermaid);
    CHECK(has(m, "web × 3 replicas<br/>netns shop-web-1 … -3"));
    CHECK(has(m, "eth0 10.5.0.2 10.5.0.3 10.5.0.4<br/>aliases: www"));
    CHECK(count(m, "8080 → 80/tcp") == 1);
    CHECK(count(m, "netns shop-web-2") == 0);
}
