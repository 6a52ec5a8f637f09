#!/usr/bin/env bash
# The systemd unit's privileges (packaging/topo-watch@.service.in), tried
# without systemd: PID 1 here is not systemd, so the unit cannot be started.
# Its CapabilityBoundingSet is read from the unit and given to topo with
# setpriv, as systemd would (root's capabilities after exec are the bounding
# set), with NoNewPrivileges; then what the watch does — build a project,
# probe it, repair drift, publish a port, destroy it — must work with exactly
# those, and fail, saying so, without one the unit says it needs.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
make_world

unit="$TOPO_SRC/packaging/topo-watch@.service.in"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
expect_eq "the unit names its capabilities" "CAP_NET_ADMIN CAP_SYS_ADMIN CAP_NET_RAW CAP_SYS_PTRACE CAP_NET_BROADCAST CAP_NET_BIND_SERVICE" "$caps"
bounding=$(echo "$caps" | tr 'A-Z' 'a-z' | sed 's/cap_/+/g; s/ /,/g')
check "and NoNewPrivileges" grep -qx 'NoNewPrivileges=yes' "$unit"
as_unit() { setpriv --bounding-set "-all,$bounding" --inh-caps -all --no-new-privs "$@"; }
expect_eq "under them, a process has exactly those" "net_bind_service,net_broadcast,net_admin,net_raw,sys_ptrace,sys_admin" \
    "$(as_unit setpriv -d | sed -n 's/^Capability bounding set: //p')"
expect_eq "and they are its effective ones" 1 "$(as_unit awk '/^Cap(Eff|Bnd)/ {print $2}' /proc/self/status | uniq | wc -l)"

cat > shop.yaml <<'YAML'
name: shop
networks:
  front: {ipam: {config: [{subnet: 10.90.0.0/24}]}}
services:
  web: {networks: [front], ports: ["8080:80"]}
  db: {networks: [front]}
YAML
out=$(as_unit "$TOPO" watch --once --probe -f shop.yaml 2>&1) && rc=0 || rc=$?
expect_eq "watch --once builds the project with the unit's capabilities" 2 "$rc"
[ "$rc" = 2 ] || echo "$out" | sed 's/^/    /'
check "the sandboxes reach each other" ping_soon shop-web "$(ip -n shop-db -4 -br addr show eth0 | awk '{print $3}' | cut -d/ -f1)"
ip netns exec shop-web socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello' &
wait_listening shop-web 1
expect_eq "the published port answers from the world" "hello" "$(world_tcp 198.51.100.1:8080)"
expect_contains "and the probe could run (raw ICMP, setns)" '"broken": 0' "$(cat "$TOPO_STATE_DIR/shop.status.json")"
ip -n shop-db link set eth0 down
expect_eq "drift is repaired with them" 2 "$(as_unit "$TOPO" watch --once -f shop.yaml >/dev/null 2>&1; echo $?)"
check "and the plan is empty after" "$TOPO" plan -f shop.yaml --detailed-exitcode
expect_eq "show reads the programs in the sandboxes (CAP_SYS_PTRACE)" 1 \
    "$(as_unit "$TOPO" show -f shop.yaml -o json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(sum(len(s.get("processes", [])) > 0 for s in j["sandboxes"].values()))')"
check "destroy --kill works with them" as_unit "$TOPO" destroy -f shop.yaml -y --kill
check "and leaves no sandbox" test -z "$(ip netns list | grep shop || true)"

# Without CAP_SYS_ADMIN (namespaces): refused, and said.
without_sys_admin=$(echo "$bounding" | sed 's/,+sys_admin//')
out=$(setpriv --bounding-set "-all,$without_sys_admin" --inh-caps -all --no-new-privs "$TOPO" apply -f shop.yaml -y 2>&1) && rc=0 || rc=$?
expect_eq "without CAP_SYS_ADMIN the apply fails" 1 "$rc"
expect_contains "naming what was not permitted" "not permitted" "$out"
check "and is rolled back: no sandbox" test -z "$(ip netns list | grep shop || true)"
finish
