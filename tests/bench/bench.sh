#!/usr/bin/env bash
# Benchmark (not a test): topo against the standard tools and Podman's netavark
# on one workload — one bridge network, N sandboxes each with a static address,
# a default route and one published TCP port — in one run, side by side, inside
# a private network namespace. Prints medians (ms) and ratios; targets are
# reported as MET or MISSED, never asserted. Absolute times on shared machines
# are noisy: compare the ratios.
#   BENCH_SIZES="50 200 1000"  BENCH_RUNS=3  BENCH_NETAVARK_RUNS=3  TOPO=build/topo  tests/bench/bench.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOPO=$(realpath "${TOPO:-$HERE/../../build/topo}")
SIZES=${BENCH_SIZES:-50 200 1000}
RUNS=${BENCH_RUNS:-3}
# netavark takes minutes per run at N=1000: measured in this many of the runs (0: not at all).
NETAVARK_RUNS=${BENCH_NETAVARK_RUNS:-$RUNS}
SETTLE=${BENCH_SETTLE:-60}  # at most this many seconds of waiting for a quiet CPU
find_netavark() {  # Debian installs it in /usr/lib/podman, Fedora in /usr/libexec/podman
    local p
    for p in "$(command -v netavark || true)" /usr/libexec/podman/netavark /usr/lib/podman/netavark; do
        [ -n "$p" ] && [ -x "$p" ] && { echo "$p"; return; }
    done
    return 0
}
if [ "${BENCH_INSIDE:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "run as root (it works in private namespaces only)"; exit 1; }
    command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
    # netavark 1.4 drives the firewall by running iptables (iptables-nft on Debian).
    if [ -z "$(find_netavark)" ] || ! command -v iptables >/dev/null || ! command -v socat >/dev/null ||
       [ ! -e /usr/include/yaml.h ]; then
        echo "bench: installing Debian packages netavark, iptables, socat and libyaml-dev with apt-get" >&2
        apt-get install -y -qq netavark iptables socat libyaml-dev >/dev/null
    fi
    NETAVARK=$(find_netavark)
    [ -n "$NETAVARK" ] || { echo "netavark not found after apt-get install netavark"; exit 1; }
    mkdir -p /run/netns /etc/netns
    BENCH_INSIDE=1 TOPO=$TOPO NETAVARK=$NETAVARK exec unshare --net --mount --propagation private bash "$0"
fi
source "$HERE/lib.sh"
enter_bench_host

addr() { echo "10.80.$(( ($1 + 2) / 250 )).$(( ($1 + 2) % 250 + 2 ))"; }
reset_host() {
    local ns
    for ns in $(ls /run/netns); do umount /run/netns/$ns 2>/dev/null; rm -f /run/netns/$ns; done
    ip link del br0 2>/dev/null || true
    nft flush ruleset
    rm -rf "$TOPO_STATE_DIR" /etc/netns/*
    while ip -br link | grep -q '^v[0-9]\|^tv\|^veth'; do sleep 0.05; done
    quiet
}

manifest() {  # manifest N [extra]
    python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
print("name: bench\nnetworks:\n  net:\n    ipam: {config: [{subnet: 10.80.0.0/16}]}\nservices:")
for i in range(n):
    a = i + 2
    print(f"  s{i}:\n    networks:\n      net: {{ipv4_address: 10.80.{a // 250}.{a % 250 + 2}}}\n    ports: [\"{20000 + i}:80\"]")
PY
}

by_command() {  # what people write by hand: one ip/nft command per step
    local n=$1
    ip link add br0 type bridge && ip addr add 10.80.0.1/16 dev br0 && ip link set br0 up
    nft add table inet bench
    nft add map inet bench ports '{ type inet_proto . inet_service : ipv4_addr . inet_service ; }'
    nft add chain inet bench pre '{ type nat hook prerouting priority dstnat ; }'
    nft add rule inet bench pre fib daddr type local dnat ip to meta l4proto . th dport map @ports
    for i in $(seq 0 $((n - 1))); do
        ip netns add s$i
        ip link add v$i type veth peer name eth0 netns s$i
        ip link set v$i master br0 up
        ip -n s$i link set lo up
        ip -n s$i link set eth0 up
        ip -n s$i addr add "$(addr $i)/16" dev eth0
        ip -n s$i route add default via 10.80.0.1
        nft add element inet bench ports "{ tcp . $((20000 + i)) : $(addr $i) . 80 }"
    done
}

by_batch() {  # the fastest the standard tools allow: ip -batch and one nft -f
    local n=$1
    {
        echo "link add br0 type bridge"; echo "addr add 10.80.0.1/16 dev br0"; echo "link set br0 up"
        for i in $(seq 0 $((n - 1))); do
            echo "netns add s$i"; echo "link add v$i type veth peer name eth0 netns s$i"; echo "link set v$i master br0 up"
        done
    } > "$W/host.batch"
    ip -batch "$W/host.batch"
    for i in $(seq 0 $((n - 1))); do
        printf 'link set lo up\nlink set eth0 up\naddr add %s/16 dev eth0\nroute add default via 10.80.0.1\n' "$(addr $i)" | ip -n s$i -batch -
    done
    {
        echo "table inet bench {"
        echo "  map ports { type inet_proto . inet_service : ipv4_addr . inet_service ; elements = {"
        for i in $(seq 0 $((n - 1))); do echo "    tcp . $((20000 + i)) : $(addr $i) . 80,"; done
        echo "  } }"
        echo "  chain pre { type nat hook prerouting priority dstnat ; fib daddr type local dnat ip to meta l4proto . th dport map @ports ; }"
        echo "}"
    } > "$W/rules.nft"
    nft -f "$W/rules.nft"
}

# Podman's netavark: what Podman runs per container. The namespace is made by
# the script (Podman makes it itself before calling netavark); the options
# document of every sandbox is written beforehand (Podman builds it in memory),
# so only `ip netns add` and `netavark setup` are timed. DNS (aardvark-dns) is
# off; its config directory is private to this run.
netavark_json() {  # netavark_json N DIR: one network-options document per sandbox
    python3 - "$1" "$2" <<'PY'
import json, sys
n, d = int(sys.argv[1]), sys.argv[2]
net = {"name": "net", "id": "%064x" % 0xbe4c, "driver": "bridge", "network_interface": "br0",
       "subnets": [{"subnet": "10.80.0.0/16", "gateway": "10.80.0.1"}],
       "ipv6_enabled": False, "internal": False, "dns_enabled": False,
       "ipam_options": {"driver": "host-local"}}
for i in range(n):
    a = i + 2
    doc = {"container_id": "%064x" % (i + 1), "container_name": f"s{i}",
           "networks": {"net": {"interface_name": "eth0",
                                "static_ips": [f"10.80.{a // 250}.{a % 250 + 2}"], "aliases": []}},
           "network_info": {"net": net},
           "port_mappings": [{"host_ip": "", "container_port": 80, "host_port": 20000 + i,
                              "range": 1, "protocol": "tcp"}]}
    with open(f"{d}/{i}.json", "w") as f:
        json.dump(doc, f)
PY
}
by_netavark() {  # by_netavark N DIR: one `netavark setup` per sandbox
    local i out
    for i in $(seq 0 $(($1 - 1))); do
        ip netns add s$i
        out=$("$NETAVARK" --config "$W/netavark" setup /run/netns/s$i < "$2/$i.json") ||
            { echo "netavark setup of s$i failed: $out" >&2; return 1; }
    done
}
netavark_teardown() {  # the reverse, with the namespace deletion Podman does afterwards
    local i out
    for i in $(seq 0 $(($1 - 1))); do
        out=$("$NETAVARK" --config "$W/netavark" teardown /run/netns/s$i < "$2/$i.json") ||
            { echo "netavark teardown of s$i failed: $out" >&2; return 1; }
        ip netns del s$i
    done
}
verify_netavark() {  # before timing it, check that netavark really builds the workload
    local d=$W/nv-check fail="" srv
    mkdir -p "$d" "$W/netavark"; netavark_json 3 "$d"; reset_host
    by_netavark 3 "$d" >/dev/null
    ip netns exec s0 ip route | grep '^default via 10.80.0.1 dev eth0' >/dev/null || fail+=" default-route"
    ip netns exec s0 ip -br addr show eth0 | grep " $(addr 0)/16" >/dev/null || fail+=" address"
    ip netns exec s0 ping -c1 -W1 10.80.0.1 >/dev/null || fail+=" ping-gateway"
    ip netns exec s0 ping -c1 -W1 $(addr 1) >/dev/null || fail+=" ping-sibling"
    iptables-save -t nat | grep -- "--dport 20002 -j DNAT --to-destination $(addr 2):80" >/dev/null || fail+=" dnat-rule"
    ip netns exec s2 socat -T2 TCP-LISTEN:80,reuseaddr,fork SYSTEM:'echo ok' & srv=$!
    sleep 0.3
    [ "$(timeout 3 socat -T2 - TCP:10.80.0.1:20002 </dev/null 2>/dev/null)" = ok ] || fail+=" published-port-from-host"
    [ "$(ip netns exec s0 timeout 3 socat -T2 - TCP:10.80.0.1:20002 </dev/null 2>/dev/null)" = ok ] || fail+=" published-port-from-sandbox"
    kill $srv 2>/dev/null; wait $srv 2>/dev/null || true
    netavark_teardown 3 "$d" >/dev/null
    ! iptables-save -t nat | grep -- '--dport 2000' >/dev/null || fail+=" teardown-left-rules"
    reset_host
    if [ -n "$fail" ]; then echo "netavark check FAILED:$fail" >&2; exit 1; fi
    echo "netavark $("$NETAVARK" version | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])') checked at N=3: address, default route, ping gateway and sibling, DNAT rule, published port from the host and from a sandbox, teardown removes the rules"
}

# The kernel's own cost of reading the sandboxes (tests/bench/read_floor.cpp),
# next to topo's read of them, on as many threads as topo uses; and YAML
# parsing alone (tests/bench/yaml_parse.cpp), next to topo's manifest phase.
FLOOR="" YAMLP=""
if command -v c++ >/dev/null; then
    c++ -O2 -std=c++20 -pthread -o "$W/read_floor" "$HERE/read_floor.cpp" && FLOOR=$W/read_floor
    c++ -O2 -std=c++20 -o "$W/yaml_parse" "$HERE/yaml_parse.cpp" -lyaml && YAMLP=$W/yaml_parse
else
    echo "bench: no C++ compiler; the floors of reading and parsing are not measured" >&2
fi
READERS=$(( $(nproc) < 4 ? $(nproc) : 4 ))

# topo watch: the same two changes, made as git makes them (a file renamed
# over the manifest), timed from the rename until the watch's log line says
# the host was changed and read back; and the run's own duration_ms.
exec {nap}<> <(:)  # `read -t` on it: a sleep that starts no process
watch_change() {  # watch_change LOG FILE: rename FILE over the manifest; prints "wall_ms run_ms"
    local lines s i log
    mapfile -t log < "$1"; lines=${#log[@]}
    cp "$2" "$W/watch.tmp"
    s=$(now); mv "$W/watch.tmp" "$W/watch.yaml"
    for i in $(seq 1 5000); do
        mapfile -t log < "$1"
        [ ${#log[@]} -gt "$lines" ] && break
        read -rt 0.001 -u "$nap" || true
    done
    local wall; wall=$(ms "$s")
    grep -q '"result":"applied"' <<< "${log[-1]}" || { echo "bench: watch did not apply: ${log[-1]}" >&2; exit 1; }
    echo "$wall $(sed -E 's/.*"duration_ms":([0-9]+).*/\1/' <<< "${log[-1]}")"
}
by_watch() {  # by_watch N: R[wadd.N], R[wport.N] (end to end) and R[waddrun.N], R[wportrun.N]
    local n=$1 r
    reset_host
    cp "$W/m$n.yaml" "$W/watch.yaml"
    "$TOPO" watch -f "$W/watch.yaml" --log-format json --debounce 0ms --interval 1h > "$W/watch.log" 2>&1 &
    local pid=$!
    for r in $(seq 1 600); do grep -q '"trigger":"start"' "$W/watch.log" && break; sleep 0.1; done
    grep -q '"result":"applied","time":"[^"]*","trigger":"start"' "$W/watch.log" ||
        { echo "bench: watch did not start: $(cat "$W/watch.log")" >&2; exit 1; }
    for r in $(seq 1 "$RUNS"); do
        quiet; read -r wall run <<< "$(watch_change "$W/watch.log" "$W/add.yaml")"
        R[wadd.$n]+=" $wall"; R[waddrun.$n]+=" $run"
        quiet; read -r wall run <<< "$(watch_change "$W/watch.log" "$W/port.yaml")"
        R[wport.$n]+=" $wall"; R[wportrun.$n]+=" $run"
        quiet; watch_change "$W/watch.log" "$W/m$n.yaml" >/dev/null
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
}

phase_ms() { awk -v p="trace: $2 " 'index($0, p) {printf "%d", $(NF-1) + 0.5}' <<< "$1"; }  # TOPO_TRACE output, phase
rss_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }

verify_netavark
declare -A R
for n in $SIZES; do
    manifest "$n" > "$W/m$n.yaml"
    mkdir -p "$W/nv$n"; netavark_json "$n" "$W/nv$n"
    for op in topo cmd batch nv nvdown plan add port tadd tport destroy readfloor readtopo loadtopo wadd waddrun wport wportrun; do
        R[$op.$n]=""
    done
    for run in $(seq 1 "$RUNS"); do
        reset_host; s=$(now); by_command "$n" >/dev/null; R[cmd.$n]+=" $(ms $s)"
        reset_host; s=$(now); by_batch "$n" >/dev/null; R[batch.$n]+=" $(ms $s)"
        if [ "$run" -le "$NETAVARK_RUNS" ]; then
            reset_host; s=$(now); by_netavark "$n" "$W/nv$n" >/dev/null; R[nv.$n]+=" $(ms $s)"
            quiet; s=$(now); netavark_teardown "$n" "$W/nv$n" >/dev/null; R[nvdown.$n]+=" $(ms $s)"
        fi
        reset_host; s=$(now); "$TOPO" apply -f "$W/m$n.yaml" -y >/dev/null; R[topo.$n]+=" $(ms $s)"
        # The built host is measured once it is quiet, as a plan in CI or watch sees it.
        quiet
        s=$(now); "$TOPO" plan -f "$W/m$n.yaml" >/dev/null; R[plan.$n]+=" $(ms $s)"
        if [ -n "$FLOOR" ]; then
            quiet; trace=$(TOPO_TRACE=1 "$TOPO" plan -f "$W/m$n.yaml" 2>&1 >/dev/null)
            R[readtopo.$n]+=" $(phase_ms "$trace" "read sandboxes")"; R[loadtopo.$n]+=" $(phase_ms "$trace" "load manifest")"
            quiet; f=$("$FLOOR" bench- "$READERS" 5); R[readfloor.$n]+=" ${f%% *}"; R[floorparts.$n]=$f
        fi
        { cat "$W/m$n.yaml"; printf '  extra:\n    networks:\n      net: {ipv4_address: 10.80.200.2}\n'; } > "$W/add.yaml"
        quiet; s=$(now); "$TOPO" apply -f "$W/add.yaml" -y >/dev/null; R[add.$n]+=" $(ms $s)"
        sed 's/"20000:80"/"40000:80"/' "$W/add.yaml" > "$W/port.yaml"
        quiet; s=$(now); "$TOPO" apply -f "$W/port.yaml" -y >/dev/null; R[port.$n]+=" $(ms $s)"
        # The same two changes with the service named (`topo apply -f F SERVICE`,
        # as `docker compose up SERVICE`): only its sandbox is read.
        "$TOPO" apply -f "$W/m$n.yaml" -y >/dev/null
        quiet; s=$(now); "$TOPO" apply -f "$W/add.yaml" -y extra >/dev/null; R[tadd.$n]+=" $(ms $s)"
        quiet; s=$(now); "$TOPO" apply -f "$W/port.yaml" -y s0 >/dev/null; R[tport.$n]+=" $(ms $s)"
        quiet; s=$(now); "$TOPO" destroy -f "$W/port.yaml" -y >/dev/null; R[destroy.$n]+=" $(ms $s)"
    done
    reset_host
    R[rss.$n]=$(rss_kb "$TOPO" apply -f "$W/m$n.yaml" -y)
    "$TOPO" apply -f "$W/add.yaml" -y >/dev/null
    R[portline.$n]=$("$TOPO" plan -f "$W/port.yaml" | grep nft-table | sed -E 's/^ +//' || true)
    # What the kernel is told for one changed port, as nftables reports it.
    nft monitor > "$W/monitor.$n" 2>&1 & mon=$!
    sleep 0.3
    "$TOPO" apply -f "$W/port.yaml" -y >/dev/null
    sleep 0.3; kill $mon; wait $mon 2>/dev/null || true
    R[portelems.$n]=$(grep -cE '^(add|delete) element' "$W/monitor.$n" || true)
    R[portother.$n]=$(grep -E '^(add|delete) ' "$W/monitor.$n" | grep -vcE '^(add|delete) element' || true)
    by_watch "$n"
    reset_host
done
manifest 10000 > "$W/m10k.yaml"
s=$(now); "$TOPO" plan -f "$W/m10k.yaml" >/dev/null; plan10k=$(ms $s)

printf '\n%-40s' "median ms (runs: $RUNS)"; for n in $SIZES; do printf '%10s' "N=$n"; done; echo
row() { printf '%-40s' "$1"; for n in $SIZES; do printf '%10s' "$(echo ${R[$2.$n]} | median)"; done; echo; }
row "topo apply from nothing" topo
row "per-command ip/nft script" cmd
row "ip -batch + one nft -f" batch
row "netavark setup, one per sandbox" nv
row "topo no-op plan" plan
row "topo apply: one added sandbox" add
row "topo apply: one changed port" port
row "topo apply SERVICE: one added sandbox" tadd
row "topo apply SERVICE: one changed port" tport
row "topo watch: one added sandbox" wadd
row "  (the run, as its log says)" waddrun
row "topo watch: one changed port" wport
row "  (the run, as its log says)" wportrun
row "topo destroy" destroy
row "netavark teardown, one per sandbox" nvdown
printf '%-40s' "topo peak RSS (MiB), apply"; for n in $SIZES; do printf '%10s' "$(( ${R[rss.$n]} / 1024 ))"; done; echo
ratio() { printf '%-40s' "$1"; for n in $SIZES; do
    printf '%10s' "$(awk -v a="$(echo ${R[$2.$n]} | median)" -v b="$(echo ${R[$3.$n]} | median)" 'BEGIN {if (b == "") print "-"; else printf "%.2f", a/b}')"; done; echo; }
echo "ratios (lower: topo faster)"
ratio "  topo apply / per-command" topo cmd
ratio "  topo apply / ip-batch+nft -f" topo batch
ratio "  topo apply / netavark setup" topo nv
ratio "  topo destroy / netavark teardown" destroy nvdown
if [ -n "$FLOOR" ]; then
    echo "reading the sandboxes, $READERS threads (ms):"
    row "  kernel floor (tests/bench/read_floor)" readfloor
    row "  topo plan's read (TOPO_TRACE)" readtopo
    ratio "  topo / kernel floor" readtopo readfloor
    for n in $SIZES; do
        read -r all base links addrs r4 <<< "${R[floorparts.$n]}"
        echo "  floor at N=$n, each part alone: open+setns+socket $base, +links $links, +IPv4 addresses $addrs, +IPv4 static routes $r4"
    done
fi
if [ -n "$YAMLP" ]; then
    echo "YAML parsing alone, median of 7 (ms): libyaml's events | topo's whole manifest phase (its tree, then the model)"
    for n in $SIZES; do
        echo "  N=$n ($(wc -c < "$W/m$n.yaml") bytes): $("$YAMLP" "$W/m$n.yaml") | $(echo ${R[loadtopo.$n]} | median)"
    done
fi
echo "topo plan of 10,000 services against an empty host: $plan10k ms"
last=$(echo $SIZES | awk '{print $NF}')
echo "a changed port at N=$last: ${R[portline.$last]}"
for n in $SIZES; do
    echo "  nft monitor at N=$n: ${R[portelems.$n]} element changes, ${R[portother.$n]} other changes (rules, chains, sets, tables)"
done
verdict() { if [ "$1" = 1 ]; then echo MET; else echo MISSED; fi; }
t=$(echo ${R[topo.$last]} | median); c=$(echo ${R[cmd.$last]} | median); b=$(echo ${R[batch.$last]} | median)
echo
echo "targets at N=$last (issue #7):"
echo "  apply >= 5x faster than per-command:  $(verdict $(( t * 5 <= c )))"
echo "  apply no slower than ip-batch+nft -f: $(verdict $(( t <= b )))"
echo "  no-op plan < 100 ms:                  $(verdict $(( $(echo ${R[plan.$last]} | median) < 100 )))"
echo "  one added sandbox < 50 ms:            $(verdict $(( $(echo ${R[add.$last]} | median) < 50 )))"
echo "  one changed port < 50 ms:             $(verdict $(( $(echo ${R[port.$last]} | median) < 50 )))"
echo "    with the service named (topo apply -f F SERVICE):"
echo "    one added sandbox < 50 ms:          $(verdict $(( $(echo ${R[tadd.$last]} | median) < 50 )))"
echo "    one changed port < 50 ms:           $(verdict $(( $(echo ${R[tport.$last]} | median) < 50 )))"
echo "    with topo watch, end to end:"
echo "    one added sandbox < 50 ms:          $(verdict $(( $(echo ${R[wadd.$last]} | median) < 50 )))"
echo "    one changed port < 50 ms:           $(verdict $(( $(echo ${R[wport.$last]} | median) < 50 )))"
echo "  peak RSS < 50 MiB:                    $(verdict $(( ${R[rss.$last]} < 51200 )))"
echo "  plan of 10,000 services < 1 s:        $(verdict $(( plan10k < 1000 )))"
