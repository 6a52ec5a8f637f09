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
sed -i 's/parent: lan0/parent: lan9/' net.yaml
expect_error "a missing parent is a clear error, at its key" "net.yaml:5:27: networks.lan.driver_opts.parent: parent interface lan9 does not exist on this host" "$TOPO" apply -f net.yaml
finish
