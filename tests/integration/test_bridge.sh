#!/usr/bin/env bash
# Bridge networks end to end: two networks and a multi-homed service, checked
# with ip and real pings; idempotence; adding a service touches nothing else;
# foreign objects survive apply and destroy byte for byte; destroy leaves nothing.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

# Objects that are not topo's and must come out of everything untouched.
ip link add userbr0 type bridge
ip link add uva type veth peer name uvb
ip netns add userns
nft add table inet user
nft add chain inet user input '{ type filter hook input priority 0; }'
before=$(host_snapshot)

cat > net.yaml <<'YAML'
name: shop
networks:
  frontend:
    ipam:
      config:
        - subnet: 10.0.42.0/24
          ip_range: 10.0.42.128/25
  backend:
    ipam:
      config:
        - subnet: 10.0.43.0/24
services:
  web:
    networks:
      frontend:
        ipv4_address: 10.0.42.130
      backend: {}
  api:
    networks: [frontend]
  db:
    image: postgres
    networks: [backend]
YAML

check "apply builds the project" "$TOPO" apply -f net.yaml
expect_eq "three sandboxes exist, as ip netns shows" "shop-api shop-db shop-web userns" \
    "$(ip netns list | awk '{print $1}' | sort | tr '\n' ' ' | sed 's/ $//')"
addr() { ip -n "$1" -j addr show dev "$2" | python3 "$TOPO_SRC/tests/integration/ipaddr.py"; }
# Interfaces are numbered by network name (spec: priority, then name): backend is eth0.
expect_eq "web's backend address on eth0 (lowest free after db)" "10.0.43.3/24" "$(addr shop-web eth0)"
expect_eq "web's static address on eth1" "10.0.42.130/24" "$(addr shop-web eth1)"
expect_eq "api's dynamic address is the first of ip_range" "10.0.42.128/24" "$(addr shop-api eth0)"
expect_eq "db gets the lowest free backend address" "10.0.43.2/24" "$(addr shop-db eth0)"
expect_eq "web's default route goes through its first network's gateway" "default via 10.0.43.1 dev eth0 proto static" \
    "$(ip -n shop-web route show default | sed 's/ *$//')"
expect_eq "api's default route goes through frontend's gateway" "default via 10.0.42.1 dev eth0 proto static" \
    "$(ip -n shop-api route show default | sed 's/ *$//')"
expect_eq "web's MAC is derived from its address" "02:42:0a:00:2a:82" \
    "$(ip -n shop-web -j link show eth1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')"
expect_eq "the gateway is on the frontend bridge" "10.0.42.1/24" "$(ip -j addr show | python3 "$TOPO_SRC/tests/integration/ipaddr.py" 10.0.42.)"
check "veth host ends are enslaved to topo's bridges" test "$(bridge -j link | python3 -c 'import json,sys; print(sum(1 for l in json.load(sys.stdin) if l["ifname"].startswith("tv")))')" = 4
check "ip netns exec works in a topo sandbox" ip netns exec shop-web true
# Sandboxes without dns settings share one resolv.conf (the host's resolvers).
expect_eq "api's resolv.conf is a link to the project's shared one" "../.topo-shop/_resolv.conf" \
    "$(readlink /etc/netns/shop-api/resolv.conf)"
expect_eq "which ip netns exec mounts over /etc/resolv.conf" "$(cat /etc/netns/.topo-shop/_resolv.conf)" \
    "$(ip netns exec shop-api cat /etc/resolv.conf)"

check "web reaches api on frontend" ping_ok shop-web 10.0.42.128
check "web reaches db on backend" ping_ok shop-web 10.0.43.2
check "api reaches its gateway" ping_ok shop-api 10.0.42.1
refuse "api cannot reach db across networks" ping_ok shop-api 10.0.43.2
refuse "db cannot reach api across networks" ping_ok shop-db 10.0.42.128
expect_eq "the host forwards (for egress); isolation is nftables' job" "1" "$(cat /proc/sys/net/ipv4/ip_forward)"
check "topo's table isolates the networks" sh -c "nft list chain inet topo-shop forward | grep -q 'oifname @bridges drop'"

rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode > plan.txt || rc=$?
expect_eq "a second plan --detailed-exitcode exits 0" "0" "$rc"
expect_eq "and says so" "No changes. The host matches the manifest." "$(tail -1 plan.txt)"

# Adding one service creates only its objects and keeps everyone else's links.
ifindexes() { ip ${1:+-n "$1"} -j link | python3 -c 'import json,sys; print(json.dumps({l["ifname"]: l["ifindex"] for l in json.load(sys.stdin)}))'; }
kept() { python3 -c 'import json,sys; a=json.loads(sys.argv[1]); b=json.loads(sys.argv[2]); sys.exit(0 if all(b.get(k)==v for k,v in a.items()) else 1)' "$1" "$2"; }
web_links=$(ifindexes shop-web)
host_links=$(ifindexes)
cat >> net.yaml <<'YAML'
  cache:
    networks: [backend]
YAML
"$TOPO" plan -f net.yaml -o json > add.json
# db (one network) links to backend's shared hosts file: that one file is
# rewritten for it, not db's; web (two networks) has its own.
expect_eq "one more service: creates only cache's objects, updates backend's hosts file and web's" "ok" "$(python3 - <<'PY'
import json
p = json.load(open("add.json"))
def fine(c):
    if c["action"] == "create": return "cache" in json.dumps(c)
    return c["action"] == "update" and c["id"] in ("/etc/netns/.topo-shop/backend", "/etc/netns/shop-web/hosts")
bad = [c["action"] + " " + c["id"] for c in p["changes"] if not fine(c)]
print("ok" if p["changes"] and not bad else f"bad: {bad}")
PY
)"
check "apply adds the service" "$TOPO" apply -f net.yaml
check "web's links keep their ifindex" kept "$web_links" "$(ifindexes shop-web)"
check "every host link keeps its ifindex" kept "$host_links" "$(ifindexes)"
expect_eq "cache got the next free backend address" "10.0.43.4/24" "$(addr shop-cache eth0)"
expect_eq "web keeps its addresses" "10.0.43.3/24 10.0.42.130/24" "$(addr shop-web eth0) $(addr shop-web eth1)"
check "cache reaches db" ping_ok shop-cache 10.0.43.2

# IPv4-only networks: the sandbox end has IPv6 off (as Docker does), so it sends
# no DAD, router or multicast listener messages for the bridge to flood.
expect_eq "an IPv4-only network: the sandbox's interface has IPv6 off" "1" \
    "$(ip netns exec shop-db cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6)"
expect_eq "and no link-local address" "" "$(ip -n shop-db -6 addr show dev eth0)"
# The network gains IPv6: adding the address turns IPv6 back on first.
python3 - <<'PY'
import re
s = open("net.yaml").read()
s = s.replace("  backend:\n    ipam:\n      config:\n        - subnet: 10.0.43.0/24\n",
              "  backend:\n    enable_ipv6: true\n    ipam:\n      config:\n        - subnet: 10.0.43.0/24\n        - subnet: fd00:43::/64\n")
open("net.yaml", "w").write(s)
PY
check "apply adds IPv6 to the backend network" "$TOPO" apply -f net.yaml
expect_eq "db's interface has IPv6 on again" "0" "$(ip netns exec shop-db cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6)"
check "db reaches cache over IPv6" ping_ok shop-db "$(ip -n shop-cache -6 -j addr show dev eth0 scope global | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["addr_info"][0]["local"])')"
rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "and the plan is empty afterwards" "0" "$rc"

# Drift in both families is seen: a sandbox with IPv6 on (db) and one without
# (api, where topo asks the kernel for IPv4 only).
db6=$(ip -n shop-db -6 -j addr show dev eth0 scope global | python3 -c 'import json,sys; a=json.load(sys.stdin)[0]["addr_info"][0]; print(a["local"] + "/" + str(a["prefixlen"]))')
ip -n shop-db -6 addr del "$db6" dev eth0
ip -n shop-api route del default
"$TOPO" plan -f net.yaml > drift.txt
expect_contains "plan sees db's deleted IPv6 address" "+ address  shop-db:eth0 $db6" "$(cat drift.txt)"
expect_contains "plan sees api's deleted default route" "+ route    shop-api:default via 10.0.42.1 dev eth0" "$(cat drift.txt)"
check "apply repairs both" "$TOPO" apply -f net.yaml
expect_eq "api's default route is back" "default via 10.0.42.1 dev eth0 proto static" \
    "$(ip -n shop-api route show default | sed 's/ *$//')"

check "show lists the sandboxes" sh -c "\"$TOPO\" show -f net.yaml | grep -q 'sandbox shop-cache'"
check "ls lists the project" sh -c "\"$TOPO\" ls | grep -q '^shop '"

check "destroy removes the project" "$TOPO" destroy -f net.yaml
expect_eq "nothing of the project is left; foreign objects are byte-for-byte the same" "$before" "$(host_snapshot)"
check "the state file is gone" test ! -e "$TOPO_STATE_DIR/shop.json"
finish
