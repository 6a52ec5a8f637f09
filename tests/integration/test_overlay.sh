#!/usr/bin/env bash
# Overlay networks across three hosts: each host is a namespace of its own
# (network and mount, so its own /run/netns and /etc/netns) inside the test
# host, joined to the others by an underlay bridge `ul` (192.0.2.0/24, the
# test host at .1, which also stands for the world). Each runs
# `topo apply --host nodeN` on the same manifest, as testing.md describes.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

ip link add ul type bridge
ip addr add 192.0.2.1/24 dev ul
ip link set ul up

declare -A PID
on() { local h=$1; shift; nsenter -t "${PID[$h]}" -n -m --wd="$WORK" "$@"; }
topo_on() { local h=$1; shift; on "$h" env TOPO_STATE_DIR="$WORK/state-$h" "$TOPO" "$@"; }
in_sb() { local h=$1 sb=$2; shift 2; on "$h" ip netns exec "$sb" "$@"; }
start_host() {  # NAME ADDRESS
    local ready=$WORK/$1.ready
    unshare --net --mount --propagation private bash -c \
        "mount -t tmpfs none /run/netns && mount -t tmpfs none /etc/netns && ip link set lo up && touch $ready && exec sleep infinity" &
    PID[$1]=$!
    while [ ! -e "$ready" ]; do sleep 0.05; done
    ip link add "u-$1" type veth peer name up0 netns "${PID[$1]}"
    ip link set "u-$1" master ul up
    on "$1" ip addr add "$2/24" dev up0
    on "$1" ip link set up0 up
    on "$1" ip route add default via 192.0.2.1
}
start_host node1 192.0.2.11
start_host node2 192.0.2.12
start_host node3 192.0.2.13

# a, b, c on the overlay `mesh`, one per host; x (node2) and y (node3) on the
# internal overlay `other`, dual-stack; d on node1 on a bridge network.
manifest() {  # B_HOST
    cat > m.yaml <<EOF
name: m
networks:
  mesh:
    driver: overlay
    driver_opts: {vxlan_id: 4242}
    ipam: {config: [{subnet: 10.9.0.0/24}]}
  other:
    driver: overlay
    internal: true
    enable_ipv6: true
    ipam: {config: [{subnet: 10.10.0.0/24}, {subnet: "fd00:10::/64"}]}
  local:
    ipam: {config: [{subnet: 10.8.0.0/24}]}
hosts:
  node1: {address: 192.0.2.11}
  node2: {address: 192.0.2.12}
  node3: {address: 192.0.2.13}
services:
  a: {host: node1, networks: {mesh: {ipv4_address: 10.9.0.10}}, ports: ["8080:7000"]}
  b: {host: $1, networks: {mesh: {ipv4_address: 10.9.0.20}}}
  c: {host: node3, networks: {mesh: {ipv4_address: 10.9.0.30}}}
  x: {host: node2, networks: {other: {ipv4_address: 10.10.0.20, ipv6_address: "fd00:10::20"}}}
  y: {host: node3, networks: {other: {ipv4_address: 10.10.0.30, ipv6_address: "fd00:10::30"}}}
  d: {host: node1, networks: {local: {ipv4_address: 10.8.0.10}}}
EOF
}
manifest node2
for h in node1 node2 node3; do check "apply on $h" topo_on $h apply -f m.yaml --host $h; done

vx=$(on node1 ip -o link show type vxlan | awk -F': ' '{print $2}' | grep '^tx' | head -1)
details=$(on node1 ip -d link show "$vx")
expect_contains "node1's VXLAN device: VNI, local address, port" "vxlan id 4242 local 192.0.2.11" "$details"
expect_contains "it learns nothing" "nolearning" "$details"
expect_contains "and answers ARP itself" "proxy" "$details"
expect_contains "its MTU leaves room for the tunnel" "mtu 1450" "$details"
fdb=$(on node1 bridge fdb show dev "$vx")
expect_contains "b's MAC goes to node2" "02:42:0a:09:00:14 dst 192.0.2.12 self permanent" "$fdb"
expect_contains "c's MAC goes to node3" "02:42:0a:09:00:1e dst 192.0.2.13 self permanent" "$fdb"
expect_contains "broadcast goes to node2" "00:00:00:00:00:00 dst 192.0.2.12 self permanent" "$fdb"
expect_contains "node1's bridge knows b is behind the VXLAN port" "02:42:0a:09:00:14 master $(on node1 ip -o link show "$vx" | grep -o 'master [^ ]*' | cut -d' ' -f2) static" "$fdb"
expect_contains "and learns nothing there" "learning off" "$(on node1 ip -d link show "$vx")"
expect_contains "b's address is a neighbour entry" "10.9.0.20 lladdr 02:42:0a:09:00:14 PERMANENT" \
    "$(on node1 ip neigh show dev "$vx")"
expect_eq "node1 has no sandbox of another host" "a d" "$(on node1 ip netns list | awk '{print $1}' | sed 's/^m-//' | sort | xargs)"

check "a (node1) pings b (node2)" in_sb node1 m-a ping -c1 -W2 10.9.0.20
check "a (node1) pings c (node3)" in_sb node1 m-a ping -c1 -W2 10.9.0.30
check "c (node3) pings b (node2)" in_sb node3 m-c ping -c1 -W2 10.9.0.20
in_sb node2 m-b socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo b' </dev/null >/dev/null 2>&1 &
for i in $(seq 1 50); do [ "$(in_sb node2 m-b ss -Hltn | wc -l)" -ge 1 ] && break; sleep 0.1; done
expect_eq "a talks TCP to b across hosts" "b" "$(in_sb node1 m-a socat -T2 - TCP:10.9.0.20:7000,connect-timeout=2 </dev/null 2>&1)"
check "a leaves through its own host (masqueraded) to the world" in_sb node1 m-a ping -c1 -W2 192.0.2.1
in_sb node1 m-a socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo a' </dev/null >/dev/null 2>&1 &
for i in $(seq 1 50); do [ "$(in_sb node1 m-a ss -Hltn | wc -l)" -ge 1 ] && break; sleep 0.1; done
expect_eq "a's published port answers the world on a's host" "a" "$(socat -T2 - TCP:192.0.2.11:8080,connect-timeout=2 </dev/null 2>&1)"
check "x reaches y across hosts on the internal overlay" in_sb node2 m-x ping -c1 -W2 10.10.0.30
check "and over IPv6 (the VXLAN device answers neighbour solicitations from its entries)" \
    in_sb node2 m-x ping -6 -c1 -W2 fd00:10::30
vx_other=$(on node2 ip -o link show type vxlan | grep 'alias topo/m/net/other' | awk -F': ' '{print $2}')
expect_contains "y's IPv6 address is a neighbour entry on node2" "fd00:10::30 lladdr 02:42:0a:0a:00:1e PERMANENT" \
    "$(on node2 ip -6 neigh show dev "$vx_other")"
expect_eq "the VXLAN device has no IPv6 address of its own (nothing of its own into the tunnel)" "" \
    "$(on node2 ip -6 -o addr show dev "$vx_other")"
refuse "but has no way out of its host: other is internal" in_sb node2 m-x ping -c1 -W1 192.0.2.1
refuse "b (mesh) cannot reach x (other) on the same host" in_sb node2 m-b ping -c1 -W1 10.10.0.20
refuse "x (other) cannot reach b (mesh)" in_sb node2 m-x ping -c1 -W1 10.9.0.20
refuse "a (overlay) cannot reach d (bridge network) on the same host" in_sb node1 m-a ping -c1 -W1 10.8.0.10
refuse "a cannot reach y, on an overlay it is not on" in_sb node1 m-a ping -c1 -W1 10.10.0.30
# What node1 sends into the tunnel, counted by a rule of the test's own.
printf 'table ip probe {\n chain out {\n type filter hook output priority 0;\n udp dport 4789 counter\n }\n}\n' | on node1 nft -f -
tunnelled() { on node1 nft list chain ip probe out | grep -o 'packets [0-9]*' | awk '{print $2}'; }
before=$(tunnelled)
in_sb node1 m-a ping -c1 -W1 10.9.0.99 >/dev/null 2>&1 || true
expect_eq "an ARP request for an address no host has never crosses the underlay" "$before" "$(tunnelled)"
in_sb node1 m-a ping -c1 -W1 10.9.0.30 >/dev/null 2>&1 || true
expect_eq "(while a ping to c does: the request, and no ARP before it)" "$((before + 1))" "$(tunnelled)"
on node1 nft delete table ip probe
for h in node1 node2 node3; do
    expect_contains "the second plan on $h is empty" "No changes" "$(topo_on $h plan -f m.yaml --host $h)"
done
shown=$(topo_on node1 show -f m.yaml --host node1)
expect_contains "show gives the overlay's tunnel" "overlay vxlan $vx vni 4242 port 4789 local 192.0.2.11" "$shown"
expect_contains "and its remote sandboxes, by host" "remote 10.9.0.20 02:42:0a:09:00:14 on node2 (192.0.2.12)" "$shown"
expect_contains "ls counts the remote sandboxes" "2  recorded" "$(topo_on node1 ls)"
graph=$(topo_on node1 graph -f m.yaml)
expect_contains "graph draws the overlay once, across the hosts" "overlay: VXLAN 4242 port 4789" "$graph"
expect_contains "without --host, a host is the one whose address is its own" "No changes" "$(topo_on node2 plan -f m.yaml)"
expect_error "a host that is none of them is told which addresses were looked for" \
    "no address of the manifest's hosts is this host's: looked for 192.0.2.11 (node1), 192.0.2.12 (node2), 192.0.2.13 (node3); run on one of them, or say which host this is with --host NAME" \
    env TOPO_STATE_DIR="$WORK/state-test-host" "$TOPO" plan -f m.yaml

# The cluster shrunk to node1 alone: node2, no longer in hosts, must not
# take node1's part (its sandboxes, addresses and MACs) for its own.
sed -e '/^  node[23]: {address/d' -e 's/host: node[23]/host: node1/' m.yaml > shrunk.yaml
before=$(on node2 ip -o link show | sort)
expect_error "a host dropped from hosts is told which address was looked for" \
    "no address of the manifest's hosts is this host's: looked for 192.0.2.11 (node1); run on one of them" \
    topo_on node2 apply -f shrunk.yaml
expect_eq "and builds nothing" "$before" "$(on node2 ip -o link show | sort)"

# Encryption: refused, with what the kernel lacks, and nothing built. (The
# test asks the kernel itself, with `ip xfrm` in a namespace of its own.)
sed 's/vxlan_id: 4242}/vxlan_id: 4242, encrypted: ""}/' m.yaml > enc.yaml
if unshare --net ip xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 mode transport \
        enc "cbc(aes)" 0x00000000000000000000000000000000 auth-trunc "hmac(sha256)" \
        0x0000000000000000000000000000000000000000000000000000000000000000 128 2>/dev/null; then
    why="encrypted overlays are not built by this version of topo (the kernel has ESP"
else
    why="this host cannot encrypt the overlay: the kernel has no ESP transform for xfrm (CONFIG_INET_ESP); topo never builds an unencrypted overlay where encryption was asked for"
fi
before=$(on node1 ip -o link show | sort)
expect_error "an encrypted overlay is refused, naming what the kernel lacks" "enc.yaml:5:35: networks.mesh.driver_opts.encrypted: $why" \
    topo_on node1 apply -f enc.yaml --host node1
expect_eq "and nothing is changed" "$before" "$(on node1 ip -o link show | sort)"

# Drift: a forwarding entry deleted by hand is shown, and put back.
on node1 bridge fdb del 02:42:0a:09:00:14 dev "$vx" dst 192.0.2.12 self
expect_contains "a deleted forwarding entry is drift in the plan" "+ fdb      $vx 02:42:0a:09:00:14 192.0.2.12" \
    "$(topo_on node1 plan -f m.yaml --host node1)"
check "apply repairs it" topo_on node1 apply -f m.yaml --host node1
check "and a reaches b again" in_sb node1 m-a ping -c1 -W2 10.9.0.20

# And with a watch: a neighbour entry deleted by hand is heard of, and put back.
# (TOPO_TRACE: its phases on standard error, to tell a read in pieces.)
# nsenter and env exec, so $! is the watch itself: through a shell function
# it was the subshell, and `kill` left the watch running, to repair what
# the rest of the test changed on node1.
nsenter -t "${PID[node1]}" -n -m --wd="$WORK" env TOPO_STATE_DIR="$WORK/state-node1" TOPO_TRACE=1 \
    "$TOPO" watch -f m.yaml --host node1 --log-format json --interval 1h --debounce 100ms > "$WORK/watch.log" 2>&1 &
WATCH=$!
waited() {  # PATTERN: in the watch's log within 10 s
    local i
    for i in $(seq 1 100); do grep -q -- "$1" "$WORK/watch.log" && return 0; sleep 0.1; done
    return 1
}
waited_count() {  # TRIGGER N: N runs of that trigger, applied, within 10 s
    local i
    for i in $(seq 1 100); do
        [ "$(grep -c "\"result\":\"applied\",\"time\":\"[^\"]*\",\"trigger\":\"$1\"" "$WORK/watch.log")" -ge "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
check "the watch starts converged" waited '"trigger":"start"'
on node1 ip neigh del 10.9.0.30 dev "$vx"
check "the watch hears of a deleted neighbour entry and repairs it" waited '"result":"applied","time":"[^"]*","trigger":"drift"'
expect_contains "the entry is back" "10.9.0.30 lladdr 02:42:0a:09:00:1e PERMANENT" "$(on node1 ip neigh show dev "$vx")"
# The watch reads again only the entry an event names (a get, not a dump of
# the device): each kind of entry deleted by hand is put back.
drifts() { grep -c '"trigger":"drift"' "$WORK/watch.log" || true; }
n=$(drifts)
on node1 bridge fdb del 02:42:0a:09:00:1e dev "$vx" dst 192.0.2.13 self
check "the watch repairs a deleted forwarding entry of the VXLAN device" waited_count drift $((n + 1))
expect_contains "the entry is back" "02:42:0a:09:00:1e dst 192.0.2.13 self permanent" "$(on node1 bridge fdb show dev "$vx")"
on node1 bridge fdb del 02:42:0a:09:00:1e dev "$vx" master
check "the watch repairs a deleted forwarding entry of the bridge" waited_count drift $((n + 2))
expect_contains "the entry is back" "02:42:0a:09:00:1e master" "$(on node1 bridge fdb show dev "$vx" | grep -v self)"
check "and a reaches c again" in_sb node1 m-a ping -c1 -W2 10.9.0.30

# b moves from node2 to node1: every host applies the changed manifest, node1
# through its watch, which does not take its own entries for drift. Programs
# run through the move: b's listener on node2 (started above), a's on node1,
# and one in c on node3.
in_sb node3 m-c socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo c' </dev/null >/dev/null 2>&1 &
for i in $(seq 1 50); do [ "$(in_sb node3 m-c ss -Hltn | wc -l)" -ge 1 ] && break; sleep 0.1; done
n=$(drifts)
manifest node1
check "the watch carries out the move on node1" waited '"trigger":"manifest"'
check "reading again only b, whose line changed" waited 'trace: manifest in pieces'
check "and working out the desired state again from the last one, where b changed" waited 'trace: desired since'
check "and allocating addresses for b alone (the record is what the watch kept)" waited 'trace: ipam since'
sleep 1
expect_eq "and hears no drift in its own changes" "$n" "$(drifts)"
kill "$WATCH"; wait "$WATCH" 2>/dev/null || true
expect_eq "the watch has ended" "" "$(pgrep -f 'topo watch -f m.yaml' || true)"
plan3=$(topo_on node3 plan -f m.yaml --host node3)
expect_contains "node3's plan for the move changes b's entries" "02:42:0a:09:00:14" "$plan3"
expect_eq "and nothing else but the broadcast entry towards node2, which leaves mesh" "" \
    "$(grep -E '^  [-+~] ' <<<"$plan3" | grep -v -e 02:42:0a:09:00:14 -e ' 10.9.0.20 ' -e '00:00:00:00:00:00 192.0.2.12' || true)"
for h in node1 node3; do check "apply the move on $h" topo_on $h apply -f m.yaml --host $h; done
out=$(topo_on node2 apply -f m.yaml --host node2 2>&1) || fail "apply the move on node2: $out"
expect_contains "node2 says b's program keeps running, without a network" \
    "programs still run in sandboxes that go; they keep running without a network" "$out"
expect_contains "and names it" "pid" "$(grep -A1 'programs still run' <<<"$out" | tail -1 | grep socat)"
expect_eq "b's sandbox is gone from node2" "" "$(on node2 ip netns list | grep -w m-b || true)"
expect_eq "node2 keeps nothing of mesh (no sandbox of its own on it)" "" \
    "$(on node2 ip -o link show | grep -c "alias topo/m/net/mesh" | grep -v '^0$' || true)"
check "c (node3) reaches b on its new host" in_sb node3 m-c ping -c1 -W2 10.9.0.20
check "a reaches b, now beside it" in_sb node1 m-a ping -c1 -W2 10.9.0.20
expect_contains "node3 sends b's MAC to node1 now" "dst 192.0.2.11 self permanent" \
    "$(on node3 bridge fdb show | grep 02:42:0a:09:00:14)"
for h in node1 node2 node3; do
    expect_contains "after the move, the plan on $h is empty" "No changes" "$(topo_on $h plan -f m.yaml --host $h)"
done
expect_contains "b's address now leads to node1, not to the program left on node2 (nothing listens yet)" \
    "Connection refused" "$(in_sb node3 m-c socat -T2 - TCP:10.9.0.20:7000,connect-timeout=2 </dev/null 2>&1)"
in_sb node1 m-b socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:'echo b on node1' </dev/null >/dev/null 2>&1 &
for i in $(seq 1 50); do [ "$(in_sb node1 m-b ss -Hltn | wc -l)" -ge 1 ] && break; sleep 0.1; done
expect_eq "c (node3) talks TCP to b on its new host" "b on node1" \
    "$(in_sb node3 m-c socat -T2 - TCP:10.9.0.20:7000,connect-timeout=2 </dev/null 2>&1)"
expect_eq "a's program, running through the move, answers c across hosts" "a" \
    "$(in_sb node3 m-c socat -T2 - TCP:10.9.0.10:7000,connect-timeout=2 </dev/null 2>&1)"
expect_eq "and c's answers a" "c" "$(in_sb node1 m-a socat -T2 - TCP:10.9.0.30:7000,connect-timeout=2 </dev/null 2>&1)"

# Day 2: IPv6 added to the running overlay converges in one apply on each
# host (its bridge and VXLAN devices were made without IPv6), and goes again.
cp m.yaml m4.yaml
sed -e 's|    driver_opts: {vxlan_id: 4242}|&\n    enable_ipv6: true|' \
    -e 's|ipam: {config: \[{subnet: 10.9.0.0/24}\]}|ipam: {config: [{subnet: 10.9.0.0/24}, {subnet: "fd00:9::/64"}]}|' \
    -e 's|{ipv4_address: 10.9.0.\([0-9]*\)}|{ipv4_address: 10.9.0.\1, ipv6_address: "fd00:9::\1"}|' m4.yaml > m.yaml
for h in node1 node2 node3; do check "IPv6 added to mesh: one apply on $h" topo_on $h apply -f m.yaml --host $h; done
for h in node1 node2 node3; do
    expect_contains "and the next plan on $h is empty" "No changes" "$(topo_on $h plan -f m.yaml --host $h)"
done
check "a (node1) pings c (node3) over IPv6" in_sb node1 m-a ping -6 -c1 -W2 fd00:9::30
cp m4.yaml m.yaml
for h in node1 node2 node3; do check "IPv6 taken away again: one apply on $h" topo_on $h apply -f m.yaml --host $h; done
for h in node1 node2 node3; do
    expect_contains "and the next plan on $h is empty" "No changes" "$(topo_on $h plan -f m.yaml --host $h)"
done
check "a still reaches c over IPv4" in_sb node1 m-a ping -c1 -W2 10.9.0.30
expect_eq "and the program started in a before both edits still answers the world" "a" \
    "$(socat -T2 - TCP:192.0.2.11:8080,connect-timeout=2 </dev/null 2>&1)"

# destroy on one host removes only that host's part, at once, with c's
# program still running there.
check "c's program still answers a after both IPv6 edits" \
    test "$(in_sb node1 m-a socat -T2 - TCP:10.9.0.30:7000,connect-timeout=2 </dev/null 2>&1)" = c
out=$(timeout 10 env TOPO_STATE_DIR="$WORK/state-node3" nsenter -t "${PID[node3]}" -n -m --wd="$WORK" \
    "$TOPO" destroy -f m.yaml --host node3 -y 2>&1) || fail "destroy on node3 (a program running in c): $out"
expect_contains "destroy on node3 names c's program, left running" "(socat TCP-LISTEN:7000,fork,reuseaddr SYSTEM:echo c)" "$out"
expect_eq "node3 has no link of topo's left" "0" "$(on node3 ip -o link show | grep -c 'alias topo/' || true)"
expect_eq "node3 has no sandbox left" "" "$(on node3 ip netns list)"
check "node1 and node2 are untouched: a still reaches b" in_sb node1 m-a ping -c1 -W2 10.9.0.20
expect_contains "and node1's plan is still empty" "No changes" "$(topo_on node1 plan -f m.yaml --host node1)"

# What holds mesh's VNI or port on node3 now that topo's part is gone: a
# device of somebody else's with its VNI, one that takes every VNI of the
# port, a program on the port. Each is named, and nothing is changed.
on node3 ip link add myvx type vxlan id 4242 dstport 4789
before=$(on node3 ip -o link show | sort)
expect_error "a VNI another device holds is refused at plan time, naming the device" \
    "network mesh: VNI 4242 on UDP port 4789 is taken on this host by VXLAN device myvx (not topo's)" \
    topo_on node3 apply -f m.yaml --host node3
expect_eq "and nothing is changed" "$before" "$(on node3 ip -o link show | sort)"
on node3 ip link del myvx
on node3 ip link add evpn type vxlan external dstport 4789
expect_error "a device that takes every VNI of the port is refused too" \
    "network mesh: UDP port 4789 is taken on this host by VXLAN device evpn (not topo's), which receives every VNI on it (external); choose another dstport" \
    topo_on node3 apply -f m.yaml --host node3
on node3 ip link del evpn
on node3 ip link add myv6 type vxlan id 4242 dstport 4789 local fd00::1
expect_contains "an IPv6 device with the VNI is no clash (a socket of its own)" "Plan:" \
    "$(topo_on node3 plan -f m.yaml --host node3 2>&1)"
on node3 ip link del myv6
on node3 socat -u UDP-RECV:4789 - </dev/null >/dev/null 2>&1 &
for i in $(seq 1 50); do [ "$(on node3 ss -Hlun sport = :4789 | wc -l)" -ge 1 ] && break; sleep 0.1; done
before=$(on node3 ip -o link show | sort)
expect_error "a program on the port: apply says so, and is rolled back" \
    "up: UDP port 4789 cannot be opened: a program of the host, or a VXLAN device of another kind (external, gbp), holds it" \
    topo_on node3 apply -f m.yaml --host node3
expect_eq "and nothing is left" "$before" "$(on node3 ip -o link show | sort)"
pkill -f "socat -u UDP-RECV:4789" || true  # this test's own: it is a PID namespace (lib.sh)

# The MTU follows the underlay it names: jumbo frames between node1 and
# node2, and an overlay over them carries 8,950-byte packets whole (the
# underlay's 9,000 less the tunnel's 50); its sandboxes are told so, so
# that nothing larger is sent to be dropped in the tunnel.
for h in node1 node2; do ip link set "u-$h" mtu 9000; on $h ip link set up0 mtu 9000; done
cat > j.yaml <<EOF
name: j
networks:
  jumbo:
    driver: overlay
    driver_opts: {vxlan_id: 77, underlay: up0}
    ipam: {config: [{subnet: 10.11.0.0/24}]}
hosts:
  node1: {address: 192.0.2.11}
  node2: {address: 192.0.2.12}
services:
  p: {host: node1, networks: {jumbo: {ipv4_address: 10.11.0.10}}}
  q: {host: node2, networks: {jumbo: {ipv4_address: 10.11.0.20}}}
EOF
for h in node1 node2; do check "apply an overlay over the jumbo underlay on $h" topo_on $h apply -f j.yaml --host $h; done
jvx=$(on node1 ip -o link show type vxlan | grep 'alias topo/j/net/jumbo' | awk -F': ' '{print $2}')
details=$(on node1 ip -d link show "$jvx")
expect_contains "its VXLAN device is on the underlay named" "dev up0" "$details"
expect_contains "with the underlay's MTU less 50" "mtu 8950" "$details"
expect_contains "and p's interface has it too" "mtu 8950" "$(in_sb node1 j-p ip -o link show eth0)"
check "p sends q an 8,950-byte packet, unfragmented, across hosts" in_sb node1 j-p ping -c1 -W2 -M do -s 8922 10.11.0.20
expect_contains "and is told at once that a larger one does not fit" "message too long" \
    "$(in_sb node1 j-p ping -c1 -W1 -M do -s 8923 10.11.0.20 2>&1 || true)"
for h in node1 node2; do
    expect_contains "the next plan of j on $h is empty" "No changes" "$(topo_on $h plan -f j.yaml --host $h)"
done
# mesh, built over a 1500-byte underlay on node1, follows it there too: one
# apply, with a's program running through it.
expect_contains "the plan on node1 raises mesh's MTU to the underlay's less 50" \
    "mtu 1450 → 8950; network mesh" "$(topo_on node1 plan -f m.yaml --host node1)"
check "one apply on node1" topo_on node1 apply -f m.yaml --host node1
expect_contains "the next plan is empty" "No changes" "$(topo_on node1 plan -f m.yaml --host node1)"
expect_contains "a's interface has the new MTU" "mtu 8950" "$(in_sb node1 m-a ip -o link show eth0)"
check "a sends b an 8,950-byte packet unfragmented" in_sb node1 m-a ping -c1 -W2 -M do -s 8922 10.9.0.20
expect_eq "and a's program, running through it, still answers the world" "a" \
    "$(socat -T2 - TCP:192.0.2.11:8080,connect-timeout=2 </dev/null 2>&1)"

# A host the underlay has no route to yet (node1 without a default route,
# a third host elsewhere): its entries are planned all the same, and the MTU
# comes from the hosts that have one. Once, this was "find the route:
# Unspecific failure".
on node1 ip route del default
sed -e 's|^  node3: {address: 192.0.2.13}|&\n  node9: {address: 198.18.0.19}|' \
    -e 's|^  c: {host: node3, networks: {mesh: {ipv4_address: 10.9.0.30}}}|&\n  r: {host: node9, networks: {mesh: {ipv4_address: 10.9.0.90}}}|' m.yaml > far.yaml
out=$(topo_on node1 plan -f far.yaml --host node1 2>&1) || fail "plan with a host out of reach: $out"
expect_contains "a host out of reach is planned for" "02:42:0a:09:00:5a 198.18.0.19 to 198.18.0.19" "$out"
expect_eq "and the MTU stays the reachable underlay's (no link changes)" "" "$(grep -E '^  ~ (bridge|vxlan|veth) ' <<<"$out" || true)"
on node1 ip route del 192.0.2.0/24 dev up0
expect_contains "with no route to any host, mesh keeps the MTU it has (8950, not 1450)" "No changes" \
    "$(topo_on node1 plan -f m.yaml --host node1 2>&1)"
on node1 ip route add 192.0.2.0/24 dev up0 proto kernel scope link src 192.0.2.11
on node1 ip route add default via 192.0.2.1

finish
