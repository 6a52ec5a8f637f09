// The project's nftables table (one `inet topo-<project>` table), pure.
//
// What it does, like Docker's bridge driver and better where Docker hurts:
//   forward     established/related and DNATed (published) traffic pass;
//               traffic between two topo bridges is dropped, IPv4 and IPv6
//               alike (ifname-based, so one inet rule serves both); an
//               internal network's bridge can neither send nor receive
//               routed traffic; an enable_icc: false network's bridge
//               cannot forward to itself (its ports are also isolated on
//               the bridge: Link::isolated in desired.cpp).
//   prerouting  published ports: DNAT through maps keyed by protocol and
//   output      port (and by address for host_ip ports), one set of maps per
//               family (ports, hostports, ports6, hostports6), so the
//               per-packet cost does not grow with the number of ports and
//               changing one port changes one element. No userland proxy:
//               clients from other machines keep their source address.
//   postrouting egress masquerade per non-internal network; masquerade of
//               DNATed loopback traffic (127.0.0.1:PORT from the host, with
//               route_localnet on the bridge) and of hairpin traffic (IPv4
//               and IPv6). IPv6 has no route_localnet: ::1 is refused by
//               validation.
// Sysctls it needs: net.ipv4.ip_forward (and IPv6 forwarding with IPv6
// networks), route_localnet on bridges that receive published traffic.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/addressing.hpp"
#include "model/objects.hpp"
#include "model/project.hpp"

namespace topo {

struct Firewall {
    std::optional<NftTable> table;
    std::vector<Sysctl> sysctls;
};

Firewall firewall(const Project& p, const Addressing& a, const std::string& host);

}  // namespace topo
