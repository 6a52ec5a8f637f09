#!/usr/bin/env bash
# macvlan: sandboxes appear directly on a LAN through a parent interface; the
# parent (not topo's) is untouched; a "physical" peer in a lan namespace is
# reachable, and so are the sandboxes from each other.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
ip netns add lan
ip link add lan0 type veth peer name l0 netns lan
ip link set lan0 up
ip -n lan addr add 192.0.2.1/24 dev l0 && ip -n lan link set l0 up
before=$(host_snapshot)
cat > net.yaml <<'YAML'
name: office
networks:
  lan:
    driver: macvlan
    driver_opts: {parent: lan0}
    ipam: {config: [{subnet: 192.0.2.0/24, gateway: 192.0.2.1, ip_range: 192.0.2.192/27}]}
services:
  printer: {networks: [lan]}
  nas: {networks: {lan: {ipv4_address: 192.0.2.50}}}
YAML
check "apply" "$TOPO" apply -f net.yaml
expect_eq "printer's address comes from ip_range" "192.0.2.192/24" "$(ip -n office-printer -j addr show eth0 | python3 "$TOPO_SRC/tests/integration/ipaddr.py")"
expect_contains "printer's eth0 is a macvlan in bridge mode" "macvlan mode bridge" "$(ip -n office-printer -d link show eth0)"
expect_contains "its MAC is derived from its address" "02:42:c0:00:02:c0" "$(ip -n office-printer link show eth0)"
check "printer reaches the LAN's router" ping_ok office-printer 192.0.2.1
check "printer reaches nas" ping_ok office-printer 192.0.2.50
rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "a second plan is empty" 0 "$rc"
check "destroy" "$TOPO" destroy -f net.yaml
expect_eq "the parent and the LAN are as before" "$before" "$(host_snapshot)"
# The host's own path to its macvlan sandboxes: none without host_access (the
# kernel keeps a host from its macvlan sandboxes through the parent), and
# with it a macvlan link of the host's, its address from ip_range.
ip addr add 192.0.2.100/24 dev lan0  # the host on the LAN, through the parent
check "apply again" "$TOPO" apply -f net.yaml
refuse "without host_access the host cannot reach its sandbox" ping -c1 -W1 192.0.2.50
refuse "nor the sandbox the host" ping_ok office-nas 192.0.2.100
sed -i 's/driver_opts: {parent: lan0}/driver_opts: {parent: lan0, host_access: true}/' net.yaml
check "apply with host_access" "$TOPO" apply -f net.yaml
shim=$(ip -o link show type macvlan | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^tm')
expect_contains "the host's link is a macvlan on the parent, in bridge mode" "macvlan mode bridge" "$(ip -d link show "$shim")"
expect_contains "marked as the network's" "alias topo/office/net/lan" "$(ip -d link show "$shim")"
expect_eq "its address is the pool's next" "192.0.2.193/32" "$(ip -j addr show "$shim" | python3 "$TOPO_SRC/tests/integration/ipaddr.py")"
expect_contains "a host route to each sandbox goes through it" "192.0.2.50 dev $shim proto static" "$(ip route show)"
check "the host reaches its sandbox" ping -c1 -W2 192.0.2.50
check "and the sandbox reaches the host" ping_ok office-nas 192.0.2.193
check "the LAN is still reached as before" ping_ok office-printer 192.0.2.1
rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "a second plan is empty" 0 "$rc"
sed -i 's/, host_access: true}/}/' net.yaml
check "host_access taken out" "$TOPO" apply -f net.yaml
expect_eq "the host's link is gone, and its routes" "" "$(ip -o link show type macvlan; ip route show proto static)"
check "destroy again" "$TOPO" destroy -f net.yaml
ip addr del 192.0.2.100/24 dev lan0

sed -i 's/parent: lan0/parent: lan9/' net.yaml
expect_error "a missing parent is a clear error, at its key" "net.yaml:5:27: networks.lan.driver_opts.parent: parent interface lan9 does not exist on this host" "$TOPO" apply -f net.yaml
finish
