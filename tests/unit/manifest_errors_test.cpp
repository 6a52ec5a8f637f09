// The manifest reader rejects bad input with exact messages: file:line:col,
// key path, what is wrong and the fix. Each case is a manifest and every
// message it must produce, in order. (At least 15 are required by issue #3.)
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "manifest/manifest.hpp"

namespace {

struct Case {
    const char* name;
    const char* yaml;
    std::vector<std::string> messages;
};

const std::vector<Case> cases = {
    {"port_range", R"(services:
  web:
    ports: ["99999:80"]
)",
     {"proj/net.yaml:3:13: services.web.ports[0]: port 99999 is out of range (1-65535)"}},
    {"unknown_network", R"(networks: {backend: {}, frontend: {}}
services:
  web:
    networks: [backnd]
)",
     {"proj/net.yaml:4:15: services.web.networks.backnd: unknown network \"backnd\"; did you mean backend? Otherwise declare it under networks: or use one of: backend, frontend"}},
    {"unknown_top", R"(name: shop
servise: {}
)",
     {"proj/net.yaml:2:1: servise: unknown key \"servise\"; did you mean services?"}},
    {"typo_service_key", R"(services:
  web:
    netwroks: [a]
)",
     {"proj/net.yaml:3:5: services.web.netwroks: unknown key \"netwroks\"; did you mean networks?"}},
    {"bad_driver", R"(networks:
  n: {driver: weave}
)",
     {"proj/net.yaml:2:15: networks.n.driver: unknown driver \"weave\"; use bridge, macvlan or overlay"}},
    {"macvlan_no_parent", R"(networks:
  lan: {driver: macvlan}
)",
     {"proj/net.yaml:2:8: networks.lan.driver_opts.parent: a macvlan network needs a parent interface: driver_opts: {parent: eth1}"}},
    {"subnet_host_bits", R"(networks:
  n:
    ipam: {config: [{subnet: 10.0.42.1/24}]}
)",
     {"proj/net.yaml:3:30: networks.n.ipam.config[0].subnet: 10.0.42.1/24 has host bits set; did you mean 10.0.42.0/24?"}},
    {"gateway_outside", R"(networks:
  n:
    ipam: {config: [{subnet: 10.0.42.0/24, gateway: 10.0.43.1}]}
)",
     {"proj/net.yaml:3:53: networks.n.ipam.config[0].gateway: 10.0.43.1 is outside the subnet 10.0.42.0/24"}},
    {"static_outside", R"(networks:
  n:
    ipam: {config: [{subnet: 10.0.42.0/24}]}
services:
  web:
    networks:
      n: {ipv4_address: 10.9.9.9}
)",
     {"proj/net.yaml:7:10: services.web.networks.n.ipv4_address: 10.9.9.9 is outside the network's subnet 10.0.42.0/24"}},
    {"static_is_gateway", R"(networks:
  n:
    ipam: {config: [{subnet: 10.0.42.0/24}]}
services:
  web:
    networks:
      n: {ipv4_address: 10.0.42.1}
)",
     {"proj/net.yaml:7:10: services.web.networks.n.ipv4_address: 10.0.42.1 is the network's gateway; pick another address"}},
    {"static_no_ipam", R"(networks:
  n: {}
services:
  web:
    networks:
      n: {ipv4_address: 10.0.42.9}
)",
     {"proj/net.yaml:6:10: services.web.networks.n.ipv4_address: a static address needs the network n to have an IPv4 subnet in ipam.config"}},
    {"dup_static", R"(networks:
  n:
    ipam: {config: [{subnet: 10.0.42.0/24}]}
services:
  a:
    networks:
      n: {ipv4_address: 10.0.42.9}
  b:
    networks:
      n: {ipv4_address: 10.0.42.9}
)",
     {"proj/net.yaml:10:10: services.b.networks.n: 10.0.42.9 is already the address of service a"}},
    {"overlap", R"(networks:
  a:
    ipam: {config: [{subnet: 10.0.0.0/16}]}
  b:
    ipam: {config: [{subnet: 10.0.42.0/24}]}
)",
     {"proj/net.yaml:5:5: networks.b: subnet 10.0.42.0/24 overlaps network a (10.0.0.0/16); give each network its own subnet"}},
    {"dup_port", R"(services:
  a: {ports: ["8080:80"]}
  b: {ports: ["8000-8090:7000-7090"]}
)",
     {"proj/net.yaml:3:15: services.b.ports[0]: host port 8000/tcp is already published by service a"}},
    {"port_in_range", R"(services:
  a: {ports: ["8000-8010:7000-7010"]}
  b: {ports: ["8011:80", "8005:80/udp", "8010:80"]}
)",
     {"proj/net.yaml:3:41: services.b.ports[2]: host port 8010/tcp is already published by service a"}},
    {"range_len", R"(services:
  a: {ports: ["8000-8002:7000-7001"]}
)",
     {"proj/net.yaml:2:15: services.a.ports[0]: published range 8000-8002 and target range 7000-7001 differ in length"}},
    {"bad_proto", R"(services:
  a: {ports: ["80/icmp"]}
)",
     {"proj/net.yaml:2:15: services.a.ports[0]: unknown protocol \"icmp\"; use tcp, udp or sctp"}},
    {"long_port_unknown", R"(services:
  a:
    ports:
      - {target: 80, published: 8080, protocl: tcp}
)",
     {"proj/net.yaml:4:39: services.a.ports[0].protocl: unknown key \"protocl\"; did you mean protocol?"}},
    {"internal_ports", R"(networks: {b: {internal: true}}
services:
  a:
    networks: [b]
    ports: ["80:80"]
)",
     {"proj/net.yaml:5:12: services.a.ports: published ports need a network that is not internal; add one to the service's networks"}},
    {"host_mode_ports", R"(services:
  a: {network_mode: host, ports: ["80:80"]}
)",
     {"proj/net.yaml:2:34: services.a.ports: ports are not allowed with network_mode: host"}},
    {"mode_unknown_service", R"(services:
  a: {network_mode: "service:nope"}
)",
     {"proj/net.yaml:2:21: services.a.network_mode: no service named \"nope\""}},
    {"bad_name", R"(services:
  ../etc: {}
)",
     {"proj/net.yaml:2:3: services.../etc: \"../etc\" is not a valid name: use letters, digits, '_', '.' and '-' (at most 64, starting with a letter or digit)"}},
    {"nonascii_name", R"(services:
  café: {}
)",
     {"proj/net.yaml:2:3: services.café: \"café\" is not a valid name: use letters, digits, '_', '.' and '-' (at most 64, starting with a letter or digit)"}},
    {"nul_name", R"(services:
  "a\0b": {}
)",
     {"proj/net.yaml:2:3: services.a\\x00b: \"a\\x00b\" is not a valid name: use letters, digits, '_', '.' and '-' (at most 64, starting with a letter or digit)"}},
    {"long_name", R"(services:
  a1234567890123456789012345678901234567890123456789012345678901234: {}
)",
     {"proj/net.yaml:2:3: services.a1234567890123456789012345678901234567890123456789012345678901234: \"a1234567890123456789012345678901234567890123456789012345678901234\" is not a valid name: use letters, digits, '_', '.' and '-' (at most 64, starting with a letter or digit)"}},
    {"deep", "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
     {"proj/net.yaml: (document): the document is nested more than 64 levels deep"}},
    {"long_bridge_name", R"(networks:
  n: {name: averyveryverylongbridgename}
)",
     {"proj/net.yaml:2:13: networks.n.name: \"averyveryverylongbridgename\" is not a valid bridge name (at most 15 characters, no spaces, '/' or ':')"}},
    {"project_name", R"(name: Shop!
services: {}
)",
     {"proj/net.yaml:1:7: name: \"Shop!\" is not a valid project name: use a-z, 0-9, _ and -, at most 32 characters, starting with a letter or digit"}},
    {"v6_without_enable", R"(networks:
  n:
    ipam: {config: [{subnet: "fd00::/64"}]}
)",
     {"proj/net.yaml:3:5: networks.n.enable_ipv6: an IPv6 subnet needs enable_ipv6: true"}},
    {"ipv6_addr_no_v6", R"(networks:
  n:
    ipam: {config: [{subnet: 10.0.0.0/24}]}
services:
  a:
    networks:
      n: {ipv6_address: "fd00::5"}
)",
     {"proj/net.yaml:7:10: services.a.networks.n.ipv6_address: network n does not have enable_ipv6: true"}},
    {"vxlan_id", R"(networks:
  m: {driver: overlay, driver_opts: {vxlan_id: 0}}
)",
     {"proj/net.yaml:2:48: networks.m.driver_opts.vxlan_id: 0 is out of range (1-16777215)"}},
    {"mtu", R"(networks:
  m: {driver_opts: {mtu: 10}}
)",
     {"proj/net.yaml:2:26: networks.m.driver_opts.mtu: 10 is out of range (68-65535)"}},
    {"dup_key", R"(services:
  a: {}
  a: {}
)",
     {"proj/net.yaml:3:3: services.a: this key appears twice; keep one"}},
    {"missing_host", R"(hosts:
  n1: {address: 192.0.2.1}
  n2: {address: 192.0.2.2}
services:
  a: {}
)",
     {"proj/net.yaml:5:6: services.a: the manifest has several hosts: say which one runs this service with host:"}},
    {"bad_mac", R"(services:
  a:
    networks:
      default: {mac_address: "zz:42"}
)",
     {"proj/net.yaml:4:30: services.a.networks.default.mac_address: \"zz:42\" is not a MAC address; write it as 02:42:0a:00:00:02"}},
    {"dup_ifname", R"(networks: {a: {}, b: {}}
services:
  s:
    networks:
      a: {interface_name: net0}
      b: {interface_name: net0}
)",
     {"proj/net.yaml:6:10: services.s.networks.b.interface_name: interface net0 is used twice in this service"}},
    {"yaml_syntax", R"(services:
  a: [
)",
     {"proj/net.yaml:3:1: (yaml): did not find expected node content (while parsing a flow node)"}},
    {"billion_laughs", R"(a: &a [x,x,x,x,x,x,x,x,x,x]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]
)",
     {"proj/net.yaml: (document): the document expands to more than 200000 nodes (YAML aliases?); write the values out or shorten it"}},
    {"extra_hosts", R"(services:
  a: {extra_hosts: ["nohost", "x:notanip"]}
)",
     {"proj/net.yaml:2:21: services.a.extra_hosts[0]: \"nohost\" is not \"name:address\"",
      "proj/net.yaml:2:31: services.a.extra_hosts[1]: \"notanip\" is not an IP address"}},
    {"bad_network_mode", R"(services:
  a: {network_mode: bridge}
)",
     {"proj/net.yaml:2:21: services.a.network_mode: network_mode \"bridge\" is not supported; use none, host or service:<name>, or leave it out and use networks"}},
    {"two_errors", R"(services:
  a: {ports: ["0:80"]}
  b: {networks: [nope]}
)",
     {"proj/net.yaml:2:15: services.a.ports[0]: port 0 is out of range (1-65535)",
      "proj/net.yaml:3:17: services.b.networks.nope: unknown network \"nope\"; declare it under networks:"}},
    {"same_bridge_name", R"(networks:
  a: {name: br-x}
  b: {name: br-x}
)",
     {"proj/net.yaml:3:6: networks.b: bridge name br-x is also used by network a; give each network its own"}},
    {"ipv6_loopback_port", R"(networks:
  n: {enable_ipv6: true}
services:
  web:
    networks: [n]
    ports: ["[::1]:8080:80", {target: 90, published: "9090", host_ip: "::1"}]
)",
     {"proj/net.yaml:6:13: services.web.ports[0]: host_ip ::1 cannot be published: IPv6 has no route_localnet, so the kernel drops replies DNATed back to ::1; use 127.0.0.1 to publish on the host only, or an IPv6 address of the host",
      "proj/net.yaml:6:71: services.web.ports[1].host_ip: host_ip ::1 cannot be published: IPv6 has no route_localnet, so the kernel drops replies DNATed back to ::1; use 127.0.0.1 to publish on the host only, or an IPv6 address of the host"}},
    {"ipv6_port_without_ipv6", R"(networks:
  back: {internal: true, enable_ipv6: true}
  front: {}
services:
  web:
    networks: [back, front]
    ports: ["[2001:db8::1]:8080:80", "[::]:8081:81", "8082:82"]
)",
     {"proj/net.yaml:7:13: services.web.ports[0]: IPv6 host_ip 2001:db8::1 needs an IPv6 address on network front, where the port forwards to; set enable_ipv6: true on networks.front",
      "proj/net.yaml:7:38: services.web.ports[1]: IPv6 host_ip :: needs an IPv6 address on network front, where the port forwards to; set enable_ipv6: true on networks.front"}},
    {"ipv6_host_binding", R"(networks:
  a:
    driver_opts: {com.docker.network.bridge.host_binding_ipv4: "::1"}
    enable_ipv6: true
  b:
    driver_opts: {com.docker.network.bridge.host_binding_ipv4: "2001:db8::1"}
)",
     {"proj/net.yaml:3:64: networks.a.driver_opts.com.docker.network.bridge.host_binding_ipv4: ::1 cannot be published: IPv6 has no route_localnet, so the kernel drops replies DNATed back to ::1; use 127.0.0.1 to publish on the host only, or an IPv6 address of the host",
      "proj/net.yaml:6:64: networks.b.driver_opts.com.docker.network.bridge.host_binding_ipv4: the IPv6 address 2001:db8::1 needs IPv6 on this network; set enable_ipv6: true on networks.b"}},
    {"same_vxlan_id", R"(networks:
  a: {driver: overlay, driver_opts: {vxlan_id: 7}}
  b: {driver: overlay, driver_opts: {vxlan_id: 7}}
)",
     {"proj/net.yaml:3:6: networks.b: vxlan_id 7 is also used by network a; give each overlay its own"}},
    // Values that validate but could never apply (issue: hostile input).
    {"subnet_32", R"(networks:
  n: {ipam: {config: [{subnet: 10.9.0.0/32}]}}
)",
     {"proj/net.yaml:2:32: networks.n.ipam.config[0].subnet: 10.9.0.0/32 has no room for a gateway and a sandbox; use a /31 or larger"}},
    {"subnet_128", R"(networks:
  n: {enable_ipv6: true, ipam: {config: [{subnet: "fd00::/127"}]}}
)",
     {"proj/net.yaml:2:51: networks.n.ipam.config[0].subnet: fd00::/127 has no room for a gateway and a sandbox; use a /126 or larger"}},
    {"subnet_everything", R"(networks:
  n: {ipam: {config: [{subnet: 0.0.0.0/0}]}}
)",
     {"proj/net.yaml:2:32: networks.n.ipam.config[0].subnet: 0.0.0.0/0 covers every address, the host's own routes included; give the network a subnet of its own"}},
    {"mtu_below_ipv6", R"(networks:
  n:
    enable_ipv6: true
    driver_opts: {com.docker.network.driver.mtu: "1000"}
)",
     {"proj/net.yaml:4:50: networks.n.driver_opts.com.docker.network.driver.mtu: an MTU of 1000 is below IPv6's minimum of 1280, and the network has enable_ipv6; use 1280 or more, or turn IPv6 off"}},
};

}  // namespace

TEST_CASE("manifest: invalid manifests are rejected with every error, exactly worded") {
    for (auto& c : cases) {
        std::string name = c.name;
        CAPTURE(name);
        std::vector<std::string> got;
        try {
            topo::manifest::parse(c.yaml, "proj/net.yaml");
        } catch (const topo::manifest::ManifestError& e) {
            for (auto& err : e.errors()) got.push_back(err.str());
        }
        std::string all;
        for (auto& g : got) all += g + "\n";
        CAPTURE(all);
        CHECK(got == c.messages);
    }
    CHECK(cases.size() >= 15);
}

TEST_CASE("manifest: a document over 1 MiB is refused before it is parsed") {
    std::string big = "services:\n";
    for (int i = 0; big.size() <= (1 << 20); ++i) big += "  s" + std::to_string(i) + ": {}\n";
    CHECK_THROWS_WITH_AS(topo::manifest::parse(big, "big.yaml"),
                         "big.yaml: (document): the manifest is more than 1048576 bytes (1 MiB), the most topo reads",
                         topo::manifest::ManifestError);
}
