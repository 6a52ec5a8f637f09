#!/usr/bin/env bash
# Published ports, egress NAT and isolation, with real traffic: a "world"
# namespace plays the internet and remote users (testing.md), listeners run
# in sandboxes, and every probe that must be blocked is checked to fail.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

# The host's uplink to the world.
make_world
ip route add default via 198.51.100.2
# IPv6 too: the host's address 2001:db8:100::1, and ::10 for a host_ip-bound port.
ip addr add 2001:db8:100::1/64 dev up0 nodad && ip addr add 2001:db8:100::10/64 dev up0 nodad
ip -n world addr add 2001:db8:100::2/64 dev w0 nodad

cat > net.yaml <<'YAML'
name: pub
networks:
  front:
    enable_ipv6: true
    ipam: {config: [{subnet: 10.40.1.0/24}, {subnet: "fd40:1::/64"}]}
  other:
    enable_ipv6: true
    ipam: {config: [{subnet: 10.40.2.0/24}, {subnet: "fd40:2::/64"}]}
  back:
    internal: true
    ipam: {config: [{subnet: 10.40.3.0/24}]}
  routed:
    driver_opts: {com.docker.network.bridge.enable_ip_masquerade: "false"}
    ipam: {config: [{subnet: 10.40.4.0/24}]}
services:
  app:
    networks: [front, back]
    ports:
      - "8080:80"
      - "127.0.0.1:9090:90"
      - "5353:53/udp"
      - "8000-8002:7000-7002"
      - {target: 443, published: "8443", protocol: tcp}
      - "[2001:db8:100::10]:8088:88"
      - "30000:3000/sctp"
  peer:
    networks: [front]
  stranger:
    networks: [other]
  db:
    networks: [back]
  direct:
    networks: [routed]
YAML
check "apply" "$TOPO" apply -f net.yaml
# app: front 10.40.1.2, back 10.40.3.2; peer: front 10.40.1.3; stranger: other 10.40.2.2; db: back 10.40.3.3
expect_eq "forwarding is on" 1 "$(cat /proc/sys/net/ipv4/ip_forward)"

serve() {  # serve NS PROTO PORT: answers each connection with "hello from <peer address>"
    local ns=$1 proto=$2 port=$3
    if [ "$proto" = udp ]; then
        ip netns exec "$ns" socat -T2 UDP-RECVFROM:"$port",fork SYSTEM:'echo hello from $SOCAT_PEERADDR' &
    else
        ip netns exec "$ns" socat TCP-LISTEN:"$port",fork,reuseaddr SYSTEM:'echo hello from $SOCAT_PEERADDR' &
    fi
}
serve6() {  # serve6 NS PORT: the same on IPv6 only (next to an IPv4 listener on the port)
    ip netns exec "$1" socat TCP6-LISTEN:"$2",ipv6only=1,fork,reuseaddr SYSTEM:'echo hello from $SOCAT_PEERADDR' &
}
for p in 80 90 443 7001; do serve pub-app tcp $p; done
serve pub-app udp 53
serve6 pub-app 80
serve6 pub-app 88
world_tcp6() { ip netns exec world socat -T2 - TCP6:"$1",connect-timeout=2 </dev/null 2>/dev/null; }
# One datagram may be lost (a neighbour not resolved yet, a loaded machine:
# CI once lost three in a row while the machine was busy): up to five tries,
# each its own datagram.
world_udp() {
    local out
    for _ in 1 2 3 4 5; do
        out=$(echo ping | ip netns exec world socat -T2 - UDP:"$1" 2>/dev/null) && [ -n "$out" ] && break
    done
    echo "$out"
}
wait_listening pub-app 6   # tcp 80, 90, 443, 7001 and the IPv6-only 80, 88
for i in $(seq 100); do ip netns exec pub-app ss -Hlun | grep -q ':53 ' && break; sleep 0.1; done  # and udp 53

expect_eq "world reaches a published tcp port; the server sees the client's own address" \
    "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8080)"
expect_eq "world reaches a udp port" "hello from 198.51.100.2" \
    "$(world_udp 198.51.100.1:5353)"
expect_eq "world reaches a port inside a range (8001 → 7001)" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8001)"
expect_eq "world reaches a long-syntax port" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8443)"
expect_contains "the host reaches 127.0.0.1:9090 (bound to 127.0.0.1)" "hello from" \
    "$(socat -T2 - TCP:127.0.0.1:9090,connect-timeout=2 </dev/null 2>/dev/null)"
expect_contains "the host reaches 127.0.0.1:8080 too (unbound ports include loopback)" "hello from" \
    "$(socat -T2 - TCP:127.0.0.1:8080,connect-timeout=2 </dev/null 2>/dev/null)"
expect_eq "world cannot reach the 127.0.0.1-bound port" "" "$(world_tcp 198.51.100.1:9090)"
expect_eq "world cannot reach a port that is not published" "" "$(world_tcp 198.51.100.1:8090)"
expect_contains "a sandbox on the same network reaches the port at the host's address (hairpin)" "hello from" \
    "$(ip netns exec pub-peer socat -T2 - TCP:198.51.100.1:8080,connect-timeout=2 </dev/null 2>/dev/null)"
expect_contains "a sandbox on another network reaches it at the host's address" "hello from" \
    "$(ip netns exec pub-stranger socat -T2 - TCP:198.51.100.1:8080,connect-timeout=2 </dev/null 2>/dev/null)"

# IPv6 (socat shows peer addresses written out in full): a port without
# host_ip is published on IPv6 too (app has an IPv6 address on front); one
# bound to an IPv6 host_ip only there.
expect_eq "IPv6 forwarding is on" 1 "$(cat /proc/sys/net/ipv6/conf/all/forwarding)"
# Neighbour discovery first (on a loaded machine its first round can outlast a
# 2 s connect timeout): the sandbox's gateway, and the world's next hop.
ip netns exec pub-app ping -6 -c1 -W3 fd40:1::1 >/dev/null || true
ip netns exec world ping -6 -c1 -W3 2001:db8:100::1 >/dev/null || true
expect_contains "world reaches a published port at the host's IPv6 address; the server sees the client's own address" \
    "hello from [2001:0db8:0100:0000:0000:0000:0000:0002]" "$(world_tcp6 [2001:db8:100::1]:8080)"
expect_contains "world reaches the IPv6 host_ip-bound port at its address" "hello from [2001:0db8:0100:0000:0000:0000:0000:0002]" \
    "$(world_tcp6 [2001:db8:100::10]:8088)"
expect_eq "but not at the host's other IPv6 address" "" "$(world_tcp6 [2001:db8:100::1]:8088)"
expect_eq "nor over IPv4" "" "$(world_tcp 198.51.100.1:8088)"
expect_contains "the host reaches the port at its own IPv6 address" "hello from" \
    "$(socat -T2 - TCP6:[2001:db8:100::1]:8080,connect-timeout=2 </dev/null 2>/dev/null)"
expect_contains "a sandbox on the same network reaches it at the host's IPv6 address (hairpin)" "hello from [fd40:0001:0000:0000:0000:0000:0000:0001]" \
    "$(ip netns exec pub-peer socat -T2 - TCP6:[2001:db8:100::1]:8080,connect-timeout=2 </dev/null 2>/dev/null)"
# localhost is ::1 first for most clients: it must be refused at once (no
# listener on the host), not DNATed into a sandbox whose reply can never come
# back, which would leave the client hanging instead of falling back to 127.0.0.1.
expect_contains "the host's [::1]:8080 is refused at once, not DNATed" "Connection refused" \
    "$(socat -T2 - TCP6:[::1]:8080,connect-timeout=2 </dev/null 2>&1)"
# SCTP: this kernel has no SCTP sockets (socket(AF_INET, SOCK_STREAM, 132) fails
# with EPROTONOSUPPORT), so no traffic can be sent; check the map elements instead.
expect_contains "an sctp port is an IPv4 map element" "sctp . 30000 : 10.40.1.2 . 3000" "$(nft list map inet topo-pub ports)"
expect_contains "and an IPv6 one" "sctp . 30000 : fd40:1::2 . 3000" "$(nft list map inet topo-pub ports6)"

# Egress is masqueraded: a server in the world sees the host's address.
ip netns exec world socat TCP-LISTEN:7777,fork,reuseaddr SYSTEM:'echo seen $SOCAT_PEERADDR' &
sleep 0.3
expect_eq "a sandbox's request reaches the world from the host's address" "seen 198.51.100.1" \
    "$(ip netns exec pub-peer socat -T2 - TCP:198.51.100.2:7777,connect-timeout=2 </dev/null 2>/dev/null)"
# Without masquerade the world sees the sandbox's own address (given a route back to it).
ip -n world route add 10.40.4.0/24 via 198.51.100.1
expect_eq "enable_ip_masquerade: false: the world sees the sandbox's own address" "seen 10.40.4.2" \
    "$(ip netns exec pub-direct socat -T2 - TCP:198.51.100.2:7777,connect-timeout=2 </dev/null 2>/dev/null)"
refuse "an internal network cannot reach the world" ip netns exec pub-db ping -c1 -W1 198.51.100.2
refuse "an internal network cannot reach the world over tcp" sh -c \
    "ip netns exec pub-db socat -T1 - TCP:198.51.100.2:7777,connect-timeout=1 </dev/null | grep -q seen"

# Isolation, with forwarding on, for IPv4 and IPv6 alike.
check "peer reaches app on front (IPv4)" ping_ok pub-peer 10.40.1.2
check "peer reaches app on front (IPv6)" ip netns exec pub-peer ping -6 -c1 -W1 fd40:1::2
refuse "stranger cannot reach app across networks (IPv4)" ping_ok pub-stranger 10.40.1.2
refuse "stranger cannot reach app across networks (IPv6)" ip netns exec pub-stranger ping -6 -c1 -W1 fd40:1::2
refuse "app cannot reach stranger across networks (IPv4)" ping_ok pub-app 10.40.2.2
refuse "peer cannot reach db on the internal network" ping_ok pub-peer 10.40.3.3
check "app, on both, reaches db" ping_ok pub-app 10.40.3.3

# One changed port is one element.
sed -i 's/"8080:80"/"8081:80"/' net.yaml
"$TOPO" plan -f net.yaml > port.txt
expect_eq "a changed port is one element out, one in per family, and nothing else" \
    "(+ ports tcp 8081 10.40.1.2 80; - ports tcp 8080 10.40.1.2 80; + ports6 tcp 8081 fd40:1::2 80; - ports6 tcp 8080 fd40:1::2 80) Plan: 0 to add, 1 to change, 0 to destroy." \
    "$(grep -o '(+.*)' port.txt) $(tail -1 port.txt)"
check "apply the port change" "$TOPO" apply -f net.yaml
# The commit's netfilter sockets are released by a child after topo exits
# (nft::Sockets::release_after_exit): it must not outlive that by much.
gone=no
# (Only this test host's: other tests may run topo at the same time.)
for i in $(seq 50); do pgrep -x "$(basename "$TOPO")" --ns $$ --nslist net >/dev/null || { gone=yes; break; }; sleep 0.1; done
expect_eq "no topo process is left soon after an apply that committed" yes "$gone"
expect_eq "the new port answers" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8081)"
expect_eq "the old one does not" "" "$(world_tcp 198.51.100.1:8080)"
expect_contains "the new port answers on IPv6" "hello from" "$(world_tcp6 [2001:db8:100::1]:8081)"
expect_eq "the old one does not" "" "$(world_tcp6 [2001:db8:100::1]:8080)"

# Drift in the table: shown, then repaired.
nft flush table inet topo-pub
rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode > drift.txt || rc=$?
expect_eq "plan shows the flushed table" "2" "$rc"
expect_contains "as a rewrite of the rules" "chains and rules differ → rewritten" "$(cat drift.txt)"
check "apply repairs it" "$TOPO" apply -f net.yaml
expect_eq "the port answers again" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8081)"
nft delete element inet topo-pub ports '{ tcp . 8081 }'
expect_eq "the world no longer reaches the port whose element was deleted" "" "$(world_tcp 198.51.100.1:8081)"
expect_contains "plan shows the deleted element, and only it" "(+ ports tcp 8081 10.40.1.2 80)" "$("$TOPO" plan -f net.yaml)"
check "apply puts it back" "$TOPO" apply -f net.yaml
expect_eq "and the port answers again" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8081)"
nft add rule inet topo-pub forward ip saddr 10.40.2.2 accept
expect_contains "a foreign rule in topo's table is drift too" "chains and rules differ" "$("$TOPO" plan -f net.yaml)"
check "and apply removes it" "$TOPO" apply -f net.yaml
expect_eq "only topo's rules are left" "0" "$(nft list chain inet topo-pub forward | grep -c '10.40.2.2' || true)"

# A targeted apply (`topo apply -f F SERVICE`, as `docker compose up SERVICE`):
# the named service is built and published; a change to another waits.
cat >> net.yaml <<'YAML'
  late:
    networks: [front]
    ports: ["8090:80"]
YAML
sed -i 's/"8081:80"/"8082:80"/' net.yaml
app_eth0=$(ip -n pub-app -o link show eth0 | cut -d: -f1)
expect_error "a service the manifest does not have is refused" \
    "services.nosuch: no such service in the manifest; name one of its services, or none to apply all of it" \
    "$TOPO" apply -f net.yaml nosuch
check "apply only the new service" "$TOPO" apply -f net.yaml late
serve pub-late tcp 80
wait_listening pub-late 1
expect_eq "world reaches the new service's published port" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8090)"
check "a peer on its network reaches it by name" ip netns exec pub-peer ping -c1 -W1 late
expect_eq "app's port is still the one the kernel had" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8081)"
expect_eq "app's changed port waits for a full apply" "" "$(world_tcp 198.51.100.1:8082)"
expect_eq "app's sandbox was not touched (same ifindex)" "$app_eth0" "$(ip -n pub-app -o link show eth0 | cut -d: -f1)"
expect_contains "a full plan shows what waits" "(+ ports tcp 8082 10.40.1.2 80; - ports tcp 8081 10.40.1.2 80" "$("$TOPO" plan -f net.yaml)"
sed -i 's#10.40.2.0/24#10.40.5.0/24#' net.yaml
expect_error "a changed network is refused in a targeted apply, naming the fix" \
    "a network would change, and with it every sandbox on it; run \`topo apply -f FILE\` without service names" \
    "$TOPO" apply -f net.yaml stranger
expect_contains "which changed nothing: stranger keeps its address" "inet 10.40.2.2/24" "$(ip -n pub-stranger -o addr show dev eth0)"
sed -i 's#10.40.5.0/24#10.40.2.0/24#' net.yaml
check "a full apply does the rest" "$TOPO" apply -f net.yaml
expect_eq "app's new port answers" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:8082)"

kill $(jobs -p) 2>/dev/null || true
check "destroy" "$TOPO" destroy -f net.yaml
expect_eq "nothing of the project is left in the ruleset" "" "$(nft list ruleset)"

# Large ranges: a transaction larger than the socket's buffers, and one that
# once overflowed the batch buffer (SIGSEGV). Each is one transaction.
wide() {
    cat > wide.yaml <<YAML
name: wide
networks:
  n: {ipam: {config: [{subnet: 10.40.9.0/24}]}}
services:
  big:
    networks: [n]
    ports: [$1]
YAML
}
elements() { nft -j list map inet topo-wide ports | python3 -c 'import json,sys; print(sum(len(x["map"].get("elem", [])) for x in json.load(sys.stdin)["nftables"] if "map" in x))'; }
wide '"1-6000:1-6000"'
check "6000 published ports apply (once: Message too long)" "$TOPO" apply -f wide.yaml -y
expect_eq "all 6000 are in the map" 6000 "$(elements)"
serve wide-big tcp 5999
wait_listening wide-big 1
expect_eq "the 5999th answers from the world" "hello from 198.51.100.2" "$(world_tcp 198.51.100.1:5999)"
wide '"1-60000:1-60000", "1-60000:1-60000/udp"'
check "120,000 published ports apply (once: SIGSEGV)" "$TOPO" apply -f wide.yaml -y
expect_eq "all 120,000 are in the map" 120000 "$(elements)"
check "and the next plan is empty" "$TOPO" plan -f wide.yaml --detailed-exitcode
wide '"1-6000:1-6000"'
check "back to 6000 in one apply" "$TOPO" apply -f wide.yaml -y
expect_eq "6000 in the map" 6000 "$(elements)"
kill $(jobs -p) 2>/dev/null || true
check "destroy" "$TOPO" destroy -f wide.yaml -y
finish
