// A service's Compose networking keys that reach the kernel: links,
// gw_priority, link_local_ips, a service-wide mac_address; and the ones that
// are refused (container:, external_links) or only checked (expose).
#include <doctest/doctest.h>

#include <algorithm>

#include <fmt/format.h>

#include "manifest_helpers.hpp"
#include "manifest/manifest.hpp"
#include "model/naming.hpp"
#include "reconcile/reconcile.hpp"

using namespace topo;

namespace {

manifest::LoadOptions no_variables() {
    manifest::LoadOptions o;
    o.variables = std::map<std::string, std::string>{};
    return o;
}

Computed computed(const Project& p) { return test::plan_on_empty_host(p); }

template <class T>
std::vector<T> all_of(const Computed& c) {
    std::vector<T> out;
    for (auto& [_, o] : c.desired.state.objects)
        if (auto* x = std::get_if<T>(&o)) out.push_back(*x);
    return out;
}

std::vector<std::string> messages(std::string_view text) {
    std::vector<std::string> out;
    try {
        manifest::parse(text, "m.yaml", no_variables());
    } catch (const manifest::ManifestError& e) {
        for (auto& err : e.errors()) out.push_back(err.path + ": " + err.message);
    }
    return out;
}

}  // namespace

TEST_CASE("compose keys: links, gw_priority, link_local_ips and a service-wide mac_address reach the kernel") {
    auto p = manifest::parse(R"(name: shop
networks:
  front: {ipam: {config: [{subnet: 10.1.0.0/24}]}}
  back: {enable_ipv6: true, ipam: {config: [{subnet: 10.2.0.0/24}, {subnet: "fd00:2::/64"}]}}
services:
  db:
    networks: {back: {ipv4_address: 10.2.0.5}}
    expose: ["5432"]
  web:
    mac_address: 02:42:0a:00:00:99
    links: ["db:database"]
    networks:
      front: {}
      back:
        gw_priority: 5
        link_local_ips: [169.254.7.7, "fe80::7"]
)",
                             "m.yaml", no_variables());
    auto c = computed(p);
    REQUIRE(c.errors.empty());
    auto ns = naming::netns("shop", "web");
    // back (eth0 by name) has the higher gw_priority: the default route, and the MAC.
    auto routes = all_of<Route>(c);
    auto def = std::find_if(routes.begin(), routes.end(), [&](auto& r) { return r.ns == ns && r.dst.len == 0 && r.dst.addr.is_v4(); });
    REQUIRE(def != routes.end());
    CHECK(def->gateway->str() == "10.2.0.1");
    CHECK(def->dev == "eth0");
    CHECK(c.addressing.endpoint("web", "back")->mac->str() == "02:42:0a:00:00:99");
    auto addrs = all_of<Address>(c);
    auto has = [&](const char* prefix) {
        return std::any_of(addrs.begin(), addrs.end(), [&](auto& a) { return a.ns == ns && a.link == "eth0" && a.prefix.str() == prefix; });
    };
    CHECK(has("169.254.7.7/16"));
    CHECK(has("fe80::7/64"));
    // The link's alias, in web's hosts file only.
    auto files = all_of<File>(c);
    auto hosts_of = [&](const std::string& service) {
        auto f = std::find_if(files.begin(), files.end(), [&](auto& x) { return x.path == "/etc/netns/" + naming::netns("shop", service) + "/hosts"; });
        REQUIRE(f != files.end());
        return f->content.str();
    };
    CHECK(hosts_of("web").find("# links\n10.2.0.5\tdatabase\n") != std::string::npos);
    CHECK(hosts_of("db").find("database") == std::string::npos);
    // Without gw_priority, interface order: front would carry the route.
    auto q = manifest::parse(R"(name: shop
services:
  web:
    networks: [a, b]
networks: {a: {ipam: {config: [{subnet: 10.1.0.0/24}]}}, b: {ipam: {config: [{subnet: 10.2.0.0/24}]}}}
)",
                             "m.yaml", no_variables());
    auto qr = all_of<Route>(computed(q));
    REQUIRE(qr.size() == 1);
    CHECK(qr[0].gateway->str() == "10.1.0.1");
}

TEST_CASE("compose keys: what cannot be done is refused, naming the key and the way out") {
    auto e = messages(R"(name: shop
networks: {front: {}, back: {}}
services:
  db: {networks: [back]}
  side: {network_mode: "container:abc123"}
  web:
    networks:
      front:
        link_local_ips: [10.0.0.1]
    links: [db, ghost, "db:bad name"]
    external_links: [redis_1]
    expose: ["80/icmp", "99999"]
    mac_address: 02:42:0a:00:00:01
  two:
    networks:
      front: {mac_address: "02:42:0a:00:00:02"}
    mac_address: 02:42:0a:00:00:03
)");
    auto has = [&](const std::string& m) {
        bool found = std::find(e.begin(), e.end(), m) != e.end();
        if (!found) MESSAGE(fmt::format("missing: {}", m));
        return found;
    };
    CHECK(has("services.side.network_mode: network_mode \"container:abc123\" joins a container's namespace, and topo "
              "has no containers; to share a service's sandbox, write network_mode: service:<name>"));
    CHECK(has("services.web.networks.front.link_local_ips[0]: 10.0.0.1 is not link-local; link_local_ips takes addresses "
              "of 169.254.0.0/16"));
    CHECK(has("services.web.links[2]: \"db:bad name\" is not \"service\" or \"service:alias\" with a valid host name"));
    CHECK(has("services.web.external_links: external_links name containers outside the project, and topo has none "
              "to link to: give the name an address with extra_hosts: [\"NAME:ADDRESS\"], or put that service in this "
              "manifest and use links"));
    CHECK(has("services.web.expose[0]: \"icmp\" is not a protocol; use tcp, udp or sctp"));
    CHECK(has("services.web.expose[1]: port 99999 is out of range (1-65535); expose takes a port or a range, as "
              "8080, 8080/udp or 8000-8010"));
    CHECK(has("services.web.links: no service named \"ghost\" to link to"));
    CHECK(has("services.web.links: web and db share no network, so web could not reach it as db; put both on one "
              "network"));
    CHECK(has("services.two.mac_address: 02:42:0a:00:00:03 goes on the link to front, which has mac_address "
              "02:42:0a:00:00:02 of its own; keep one of them"));
    CHECK(e.size() == 9);
}

TEST_CASE("compose keys: what Compose files commonly hold is taken as Docker takes it") {
    auto p = manifest::parse(R"(name: c
networks:
  shared: {name: my-app-shared-network, enable_ipv4: true, ipam: {config: [{subnet: 10.3.0.0/24}]}}
services:
  a:
    networks: [shared]
    extra_hosts: ["host.docker.internal:host-gateway", "db=10.0.0.5"]
  h: {network_mode: host, ports: ["80:80"]}
)",
                             "m.yaml", no_variables());
    // A Compose network's name longer than an interface's: the bridge's name
    // is topo's own, as Docker's is br-<id>.
    CHECK(p.networks.at("shared").kernel_name.empty());
    auto c = computed(p);
    REQUIRE(c.errors.empty());
    CHECK(c.desired.state.find({Kind::Bridge, naming::bridge("c", "shared")}));
    // host-gateway: the host, at the gateway of a's network.
    std::string hosts;
    for (auto& f : all_of<File>(c))
        if (f.path == "/etc/netns/c-a/hosts") hosts = f.content.str();
    CHECK(hosts.find("10.3.0.1\thost.docker.internal") != std::string::npos);
    CHECK(hosts.find("10.0.0.5\tdb") != std::string::npos);
    // A host-mode service's ports are discarded with a warning, as Docker does.
    REQUIRE(p.warnings.size() == 1);
    CHECK(p.warnings[0].path == "services.h.ports");
    CHECK(p.warnings[0].message ==
          "ports are discarded with network_mode: host: the service is on the host's own network, as with Docker");

    // A range of target ports without published ones: each on an ephemeral
    // host port of its own, as Docker publishes "3000-3001".
    auto q = manifest::parse("name: r\nservices:\n  a: {ports: [\"3000-3001/udp\"]}\n", "m.yaml", no_variables());
    REQUIRE(q.services.at("a").ports.size() == 2);
    CHECK(q.services.at("a").ports[1].target.first == 3001);
    CHECK_FALSE(q.services.at("a").ports[1].published);
    CHECK(computed(q).addressing.ephemeral_ports.size() == 2);
    CHECK(messages("services: {a: {ports: [\"8000-8010:80\"]}}\n") ==
          std::vector<std::string>{"services.a.ports[0]: a published range 8000-8010 for the one target port 80 (Docker "
                                   "binds a free port of it) is not supported: publish one port, e.g. \"8000:80\""});

    CHECK(messages("services: {a: {}}\nnetworks: {n: {enable_ipv4: false, enable_ipv6: true}}\n") ==
          std::vector<std::string>{"networks.n.enable_ipv4: IPv6-only networks are not built by topo: every network "
                                   "has an IPv4 subnet; remove enable_ipv4: false"});
    CHECK(messages("services: {a: {}}\nnetworks: {n: {external: true, name: nginxproxymanager_default}}\n").size() == 1);
}
