#!/usr/bin/env bash
# Benchmark (not a test): the cost of a published port spread over replicas,
# in a private network namespace. New TCP connections per second from a
# "world" namespace (each connect, accept and close; the handshake's first
# packet is the one NAT decides on) to:
#
#   direct      a sandbox's own address, no NAT (the floor);
#   direct N    the N replicas' own addresses in turn, no NAT: what reaching
#               N sandboxes costs without topo's maps (the control);
#   1 sandbox   a port published by a service without replicas (the `ports` map);
#   2 replicas  the same port, replicated (the `balanced` map, numgen slots);
#   50 replicas the same, 50 replicas.
#
# All in one run, in a shuffled order per round; medians over BENCH_RUNS
# rounds. The servers complete handshakes without accepting (see serve_all).
# Target (#24): the rate at 50 replicas is that at 2 (ratio >= 0.9) — the
# per-packet cost must not grow with the count. Reported, never asserted.
#
#   BENCH_CONNECTIONS=3000  BENCH_RUNS=5  BENCH_SETTLE=30  TOPO=build/topo  tests/bench/replicas.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOPO=$(realpath "${TOPO:-$HERE/../../build/topo}")
CONNS=${BENCH_CONNECTIONS:-3000}
RUNS=${BENCH_RUNS:-5}
SETTLE=${BENCH_SETTLE:-30}
source "$HERE/lib.sh"
run_inside "$0"
enter_bench_host
cd "$W"

ip netns add world
ip link add up0 type veth peer name w0 netns world
ip addr add 198.51.100.1/24 dev up0 && ip link set up0 up
ip -n world addr add 198.51.100.2/24 dev w0 && ip -n world link set w0 up && ip -n world link set lo up
ip -n world route add 10.0.0.0/8 via 198.51.100.1  # for "direct"

# Three projects side by side, so that every case is measured in each round,
# in a shuffled order (measured one after the other, scaling 2 -> 50 made
# the second always look slower: the host was still tearing down or setting
# up the other's sandboxes): "one", a service without replicas on 8001;
# "two", replicated twice on 8002; "fifty", 50 times on 8003.
cat > one.yaml <<'YAML'
name: one
networks: {n: {ipam: {config: [{subnet: 10.61.0.0/24}]}}}
services:
  web: {networks: [n], ports: ["8001:80"]}
YAML
for n in 2 50; do
    name=$([ $n = 2 ] && echo two || echo fifty); port=$([ $n = 2 ] && echo 8002 || echo 8003)
    cat > $name.yaml <<YAML
name: $name
networks: {n: {ipam: {config: [{subnet: 10.$((60 + n)).0.0/24}]}}}
services:
  web: {networks: [n], scale: $n, ports: ["$port:80"]}
YAML
done
for p in one two fifty; do "$TOPO" apply -f $p.yaml >/dev/null; done

# A listener in every sandbox of the project that never accepts: the kernel
# completes each handshake into its queue, so what is timed is the network
# path (NAT's first packet included), not the waking of 50 server processes
# in turn (which, accepting, made 50 replicas look 40% slower than 2).
serve_all() {
    local ns
    for ns in $(ip netns list | awk '{print $1}' | grep "^$1-"); do
        ip netns exec "$ns" sysctl -qw net.core.somaxconn=65535
        ip netns exec "$ns" python3 -c '
import signal, socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(65535)
signal.pause()
' </dev/null >/dev/null 2>&1 &
    done
}
for p in one two fifty; do serve_all $p; done
sleep 2
# rate ADDRS PORT: connections per second over $CONNS sequential
# connections, to the (comma-separated) addresses in turn.
rate() {
    ip netns exec world python3 - "$1" "$2" "$CONNS" <<'PY'
import socket, sys, time
addrs, port, n = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3])
t = time.perf_counter()
for i in range(n):
    c = socket.create_connection((addrs[i % len(addrs)], port)); c.close()
print(int(n / (time.perf_counter() - t)))
PY
}
addresses() {
    for ns in $(ip netns list | awk '{print $1}' | grep "^$1-"); do
        ip -n "$ns" -4 -o addr show eth0 | awk '{print $4}' | cut -d/ -f1
    done | paste -sd,
}
direct=$(addresses one); two=$(addresses two); fifty=$(addresses fifty)

declare -A R
for i in $(seq "$RUNS"); do
    for which in $(printf '%s\n' direct spread2 spread50 one many2 many50 | shuf); do
        quiet
        case $which in
            direct) R[$which]+="$(rate "$direct" 80) " ;;
            spread2) R[$which]+="$(rate "$two" 80) " ;;
            spread50) R[$which]+="$(rate "$fifty" 80) " ;;
            one) R[$which]+="$(rate 198.51.100.1 8001) " ;;
            many2) R[$which]+="$(rate 198.51.100.1 8002) " ;;
            many50) R[$which]+="$(rate 198.51.100.1 8003) " ;;
        esac
    done
done
kill $(jobs -p) 2>/dev/null || true

d=$(echo "${R[direct]}" | median); o=$(echo "${R[one]}" | median)
m2=$(echo "${R[many2]}" | median); m50=$(echo "${R[many50]}" | median)
s2=$(echo "${R[spread2]}" | median); s50=$(echo "${R[spread50]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "new connections per second (median of $RUNS rounds of $CONNS; higher is better)"
printf '  %-34s %8s\n' "direct to the sandbox (no NAT)" "$d" "published, 1 sandbox (ports map)" "$o" \
    "direct to 2 sandboxes in turn" "$s2" "direct to 50 sandboxes in turn" "$s50" \
    "published, 2 replicas (slots map)" "$m2" "published, 50 replicas (slots map)" "$m50"
echo "ratios: 1 sandbox/direct $(ratio "$o" "$d"); 50/2 without topo (direct, in turn) $(ratio "$s50" "$s2");" \
    "50/2 through the slots map $(ratio "$m50" "$m2"); the map's own share: $(ratio "$(ratio "$m50" "$m2")" "$(ratio "$s50" "$s2")")"
verdict=MISSED
awk -v a="$m50" -v b="$m2" 'BEGIN {exit !(a / b >= 0.9)}' && verdict=MET
echo "target: 50 replicas' rate at least 0.9 of 2 replicas' (the cost does not grow with the count): $verdict"
