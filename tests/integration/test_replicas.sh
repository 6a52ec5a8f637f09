#!/usr/bin/env bash
# Replicas behind one published port: three sandboxes each answering with its
# own name; connections from a "world" namespace spread over every replica
# (IPv4, IPv6, a host_ip, 127.0.0.1, hairpin from a sandbox), each seeing the
# client's own address; the service's name resolving to every replica;
# scaling 3 -> 5 -> 2 keeping the survivors' links and addresses, with the
# balance covering exactly the live replicas; a connection that stays open
# keeping its replica through a scaling.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
make_world
ip -6 addr add 2001:db8:1::1/64 dev up0 nodad
ip -n world -6 addr add 2001:db8:1::2/64 dev w0 nodad
ip addr add 198.51.100.9/24 dev up0

cat > compose.yaml <<'YAML'
name: shop
networks:
  front:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 10.5.0.0/24
        - subnet: fd00:5::/64
services:
  web:
    networks: [front]
    deploy: {replicas: 3}
    ports: ["8080:80", "198.51.100.9:8081:80"]
  client:
    networks: [front]
YAML

# serve I: replica I answers its name and the address it sees the client at,
# then echoes what it is sent until the client is done.
serve() {
    ip netns exec "shop-web-$1" socat TCP6-LISTEN:80,fork,reuseaddr,ipv6only=0 \
        SYSTEM:"echo web-$1 \$SOCAT_PEERADDR; cat" </dev/null >/dev/null 2>&1 &
    local i
    for i in $(seq 1 100); do
        [ -n "$(ip netns exec "shop-web-$1" ss -Hltn 'sport = :80')" ] && return 0
        sleep 0.1
    done
}
# spread NETNS ADDR:PORT N: who answered N connections, "name count" per line.
spread() {
    local i
    for i in $(seq 1 "$3"); do
        ip netns exec "$1" socat -T2 - TCP:"$2",connect-timeout=2 </dev/null 2>/dev/null | awk '{print $1}'
    done | sort | uniq -c | awk '{print $2, $1}'
}
# each_at_least SPREAD MIN: every line's count is at least MIN.
each_at_least() { echo "$1" | awk -v min="$2" '$2 < min {bad=1} END {exit bad}'; }
names_of() { echo "$1" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//'; }

check "apply 3 replicas" "$TOPO" apply
for i in 1 2 3; do serve $i; done
expect_eq "three sandboxes, named as Compose names its containers" "shop-web-1 shop-web-2 shop-web-3" \
    "$(ip netns list | awk '{print $1}' | grep web | sort | tr '\n' ' ' | sed 's/ $//')"

s=$(spread world 198.51.100.1:8080 300)
expect_eq "300 connections from the world reach all three" "web-1 web-2 web-3" "$(names_of "$s")"
check "each at least 20 % (60 of 300): $(echo $s)" each_at_least "$s" 60
# (198.51.100.2 as the IPv4-mapped IPv6 address socat's dual-stack listener prints)
expect_contains "a replica sees the client's own address" "0000:0000:0000:0000:0000:ffff:c633:6402" \
    "$(ip netns exec world socat -T2 - TCP:198.51.100.1:8080 </dev/null 2>/dev/null)"
s=$(spread world "[2001:db8:1::1]:8080" 30)
expect_eq "over IPv6 too" "web-1 web-2 web-3" "$(names_of "$s")"
expect_contains "and the replica sees the IPv6 client" "2001:0db8:0001:0000:0000:0000:0000:0002" \
    "$(ip netns exec world socat -T2 - TCP:[2001:db8:1::1]:8080 </dev/null 2>/dev/null)"
expect_eq "a port bound to one host address (host_ip) spreads too" "web-1 web-2 web-3" \
    "$(names_of "$(spread world 198.51.100.9:8081 30)")"
refuse "and answers only there" test -n "$(ip netns exec world socat -T1 - TCP:198.51.100.1:8081,connect-timeout=1 </dev/null 2>/dev/null)"
expect_eq "from the host at 127.0.0.1" "web-1 web-2 web-3" \
    "$(for i in $(seq 1 30); do socat -T2 - TCP:127.0.0.1:8080,connect-timeout=2 </dev/null 2>/dev/null | awk '{print $1}'; done | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_eq "and from a sandbox through the host's address (hairpin)" "web-1 web-2 web-3" \
    "$(names_of "$(spread shop-client 198.51.100.1:8080 30)")"

addr_of() { ip -n "shop-web-$1" -4 -o addr show eth0 | awk '{print $4}'; }
expect_eq "the service's name resolves to every replica" "$(for i in 1 2 3; do addr_of $i; done | cut -d/ -f1 | sort | tr '\n' ' ' | sed 's/ $//')" \
    "$(ip netns exec shop-client getent ahostsv4 web | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ $//')"
expect_contains "a replica answers its own name" "web-2" \
    "$(ip netns exec shop-client socat -T2 - TCP:web-2:80,connect-timeout=2 </dev/null 2>/dev/null)"
expect_contains "and its container name" "web-3" \
    "$(ip netns exec shop-client socat -T2 - TCP:shop-web-3:80,connect-timeout=2 </dev/null 2>/dev/null)"
rc=0; "$TOPO" plan --detailed-exitcode >/dev/null 2>&1 || rc=$?
expect_eq "with the replicas serving, the next plan is empty" 0 "$rc"
expect_contains "naming the service on the command line targets its replicas" "+ netns    shop-web-4" \
    "$("$TOPO" plan web --scale web=4 2>&1)"
expect_contains "show lists the replicas" "service web (3 replicas): shop-web-1 shop-web-2 shop-web-3" "$("$TOPO" show)"

# A connection that stays open, made before the scaling.
GO="$WORK/go" ip netns exec world python3 - > "$WORK/held.txt" 2>&1 <<'PY' &
import socket, os, time
s = socket.create_connection(("198.51.100.1", 8080), timeout=20)
f = s.makefile("rw")
print(f.readline().split()[0], flush=True)
deadline = time.time() + 60
while not os.path.exists(os.environ["GO"]) and time.time() < deadline:
    time.sleep(0.05)
f.write("still here\n"); f.flush()
print(f.readline().strip(), flush=True)
PY
held=$!
for i in $(seq 1 50); do [ -s "$WORK/held.txt" ] && break; sleep 0.1; done
first=$(head -1 "$WORK/held.txt")

index_of() { ip -n "shop-web-$1" -o link show eth0 | cut -d: -f1; }
before="$(index_of 1) $(addr_of 1) $(index_of 2) $(addr_of 2) $(index_of 3) $(addr_of 3)"
out=$("$TOPO" plan --scale web=5)
expect_contains "the plan of a scaling names each new replica" "+ netns    shop-web-5" "$out"
expect_contains "and the port's change as the replicas behind it" "balanced tcp 8080 → 80: 3 → 5 replicas (+ 10.5.0." "$out"
check "scale to 5" "$TOPO" apply --scale web=5
for i in 4 5; do serve $i; done
expect_eq "the survivors keep their links and addresses" "$before" \
    "$(index_of 1) $(addr_of 1) $(index_of 2) $(addr_of 2) $(index_of 3) $(addr_of 3)"
s=$(spread world 198.51.100.1:8080 300)
expect_eq "the balance covers the five" "web-1 web-2 web-3 web-4 web-5" "$(names_of "$s")"
check "each at least 10 % (30 of 300): $(echo $s)" each_at_least "$s" 30
touch "$WORK/go"
wait $held || true
expect_eq "the connection held open through the scaling is still served, by its replica" "$first
still here" "$(cat "$WORK/held.txt")"
rc=0; "$TOPO" plan --scale web=5 --detailed-exitcode >/dev/null 2>&1 || rc=$?
expect_eq "the next plan is empty" 0 "$rc"

check "scale to 2" "$TOPO" apply --scale web=2
expect_eq "the highest replicas went" "shop-web-1 shop-web-2" \
    "$(ip netns list | awk '{print $1}' | grep web | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "the two left keep theirs" "$(echo "$before" | cut -d' ' -f1-4)" \
    "$(index_of 1) $(addr_of 1) $(index_of 2) $(addr_of 2)"
expect_eq "and the balance covers exactly them" "web-1 web-2" "$(names_of "$(spread world 198.51.100.1:8080 60)")"
expect_eq "the name resolves to the two" "$(for i in 1 2; do addr_of $i; done | cut -d/ -f1 | sort | tr '\n' ' ' | sed 's/ $//')" \
    "$(ip netns exec shop-client getent ahostsv4 web | awk '{print $1}' | sort -u | tr '\n' ' ' | sed 's/ $//')"
rc=0; "$TOPO" plan --scale web=2 --detailed-exitcode >/dev/null 2>&1 || rc=$?
expect_eq "the next plan is empty" 0 "$rc"
rc=0; "$TOPO" plan --detailed-exitcode >/dev/null 2>&1 || rc=$?
expect_eq "without --scale the manifest's 3 is a change" 2 "$rc"

kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true
check "destroy" "$TOPO" destroy
expect_eq "nothing of the project is left" "world" "$(ip netns list | awk '{print $1}'; nft list tables | grep topo || true)"
finish
