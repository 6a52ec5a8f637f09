serve edge-proxy 80 proxy
expect_eq "edge: the proxy answers the world" "proxy" "$(world_tcp 198.51.100.1:80)"
expect_contains "edge: its default route is the public network's (eth1), by gw_priority" "default via 10.30.0.1 dev eth1" \
    "$(ip -n edge-proxy route show default)"
expect_contains "edge: and the IPv6 one too" "default via fd00:30::1 dev eth1" "$(ip -n edge-proxy -6 route show default)"
expect_contains "edge: the service's mac_address is on that link" "02:42:c0:a8:64:0a" "$(ip -n edge-proxy link show eth1)"
expect_contains "edge: link_local_ips are on the private link, as /16" "169.254.20.1/16" "$(ip -n edge-proxy -4 addr show dev eth0)"
check "edge: proxy and app reach each other at their link-local addresses" ping_soon edge-proxy 169.254.20.2
expect_contains "edge: an IPv6 link-local address is on the public link, beside the kernel's own" "fe80::20:1/64" \
    "$(ip -n edge-proxy -6 addr show dev eth1)"
expect_contains "edge: dns from the x-common block" "nameserver 192.0.2.53" "$(cat /etc/netns/edge-app/resolv.conf)"
