#!/usr/bin/env bash
# A fresh host has no /run/netns: topo creates it as `ip netns add` does (a
# shared bind mount), so its namespaces and `ip netns add`'s live side by side.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
mount -t tmpfs none /run   # hides /run/netns: as on a machine that never ran `ip netns`
cat > net.yaml <<'YAML'
name: fresh
services:
  a: {}
  b: {}
YAML
check "apply on a host without /run/netns" "$TOPO" apply -f net.yaml
check "/run/netns is a shared mount, like ip netns makes it" sh -c "findmnt -no PROPAGATION /run/netns | grep -q shared"
check "ip netns add works beside topo's namespaces" ip netns add other
expect_eq "all three are listed" "fresh-a fresh-b other" "$(ip netns list | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')"
check "the implicit default network connects a and b" ping_ok fresh-a "$(ip -n fresh-b -4 -j addr show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["addr_info"][0]["local"])')"
expect_contains "the default network's subnet comes from Docker's pools" "172.17.0." "$(ip -n fresh-a -4 addr show eth0)"
check "destroy" "$TOPO" destroy -f net.yaml
expect_eq "only the user's namespace is left" "other" "$(ip netns list | awk '{print $1}')"
finish
