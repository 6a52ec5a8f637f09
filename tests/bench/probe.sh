#!/usr/bin/env bash
# Benchmark (not a test): `topo probe` of a project of N sandboxes on one
# network (TCP and ICMP between the pairs the host's neighbour table allows:
# every pair up to 200 of them, else each sandbox to its ring neighbours;
# reconcile/probe.hpp says why). In a private network namespace; but the
# neighbour table is the host's, one for all namespaces, so a second large
# project probed within seconds of the first can find it full
# (docs/performance.md). Prints the number of
# probes, the time (median of BENCH_RUNS) and the rate. Target (#25): a
# 200-sandbox project is probed in seconds on this 2-core machine.
#
#   BENCH_SANDBOXES=200  BENCH_RUNS=3  BENCH_SETTLE=30  TOPO=build/topo  tests/bench/probe.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOPO=$(realpath "${TOPO:-$HERE/../../build/topo}")
N=${BENCH_SANDBOXES:-200}
RUNS=${BENCH_RUNS:-3}
SETTLE=${BENCH_SETTLE:-30}
source "$HERE/lib.sh"
run_inside "$0"
enter_bench_host
cd "$W"

# project NAME NETWORKS BASE: N services spread over NETWORKS networks,
# 10.BASE.0.0/22, 10.BASE+1.0.0/22, ...
project() {
    {
        echo "name: $1"
        echo "networks:"
        for n in $(seq 1 "$2"); do echo "  n$n: {ipam: {config: [{subnet: 10.$(($3 + n * 4)).0.0/22}]}}"; done
        echo "services:"
        for i in $(seq 1 "$N"); do echo "  s$i: {networks: [n$(( (i - 1) % $2 + 1 ))]}"; done
    } > "$1.yaml"
    "$TOPO" apply -f "$1.yaml" >/dev/null
}

measure() {
    local times="" out i t
    for i in $(seq "$RUNS"); do
        quiet
        t=$(now)
        out=$("$TOPO" probe -f "$1.yaml" -o json) || true
        times+="$(ms "$t") "
    done
    local probes broken
    probes=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["probes"])')
    broken=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["broken"])')
    local med
    med=$(echo "$times" | median)
    printf '  %-44s %7s probes %6s ms  %7s probes/s  %s broken\n' "$2" "$probes" "$med" \
        "$(awk -v p="$probes" -v m="$med" 'BEGIN {printf "%d", p / (m / 1000)}')" "$broken"
    echo "$med"  > "$W/last_ms"
}

project one 1 70
echo "topo probe, $N sandboxes (median of $RUNS; includes reading the host and planning)"
measure one "one network (pairs reach)"
one_ms=$(cat "$W/last_ms")
verdict=MISSED
[ "$one_ms" -lt 10000 ] && verdict=MET
echo "target: a $N-sandbox project probed in seconds (< 10 s): $verdict"
