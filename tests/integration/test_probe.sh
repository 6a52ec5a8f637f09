#!/usr/bin/env bash
# topo probe: on a correct host every promise holds (exit 0) and the
# listeners it started are gone; then the host is broken by hand six ways —
# a sandbox's link down, the project's table flushed, a sandbox's routes
# flushed, a rule that joins two networks, a hosts file edited, a sandbox's
# namespace deleted — and each
# time probe exits 1 naming the sandboxes or the port and the cause, and
# passes again after `topo apply`.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
make_world

cat > compose.yaml <<'YAML'
name: shop
networks:
  front: {ipam: {config: [{subnet: 10.30.0.0/24}]}}
  side: {ipam: {config: [{subnet: 10.32.0.0/24}]}}
  back: {internal: true, ipam: {config: [{subnet: 10.31.0.0/24}]}}
  quiet:
    driver_opts: {com.docker.network.bridge.enable_icc: "false"}
    ipam: {config: [{subnet: 10.33.0.0/24}]}
services:
  web:
    networks: [front, back]
    ports: ["8080:80", "127.0.0.1:9090:90"]
  client: {networks: [front]}
  other: {networks: [side]}
  db: {networks: [back]}
  a: {networks: [quiet]}
  b: {networks: [quiet]}
YAML
check "apply" "$TOPO" apply

probe_ok() {
    local what=$1 out rc=0
    out=$("$TOPO" probe 2>&1) || rc=$?
    if [ "$rc" = 0 ] && grep -q ", 0 broken" <<<"$out"; then pass "$what"; else fail "$what (rc $rc)"; echo "$out" | grep -A3 "✘" | head -20 | sed 's/^/    /'; fi
}
# probe_broken WHAT NEEDLE...: probe exits 1 and says each NEEDLE.
probe_broken() {
    local what=$1 out rc=0 needle; shift
    out=$("$TOPO" probe 2>&1) || rc=$?
    expect_eq "$what: probe exits 1" 1 "$rc"
    for needle in "$@"; do expect_contains "$what: it says" "$needle" "$out"; done
}

probe_ok "on the host apply made, every promise holds"
out=$("$TOPO" probe 2>&1 || true)
expect_contains "pairs on a network reach each other (TCP and ping)" "network front" "$out"
expect_contains "published ports answer at the host's address" "✔ 8080/tcp at 198.51.100.1 from host → web" "$out"
expect_contains "and through hairpin" "✔ 8080/tcp at 198.51.100.1 (hairpin) from client → web" "$out"
expect_contains "a 127.0.0.1-only port answers there" "✔ 9090/tcp at 127.0.0.1 from host → web" "$out"
expect_contains "and not at the host's other addresses" "✔ 9090/tcp at 198.51.100.1 from host → web (must not answer)" "$out"
json=$("$TOPO" probe -o json)
expect_eq "enable_icc: false keeps a and b apart (both ways, TCP and ping)" "4" \
    "$(echo "$json" | python3 -c 'import json,sys; print(sum(1 for f in json.load(sys.stdin)["findings"] if f.get("table") == "network quiet" and f["expected"] == "blocked" and f["ok"]))')"
expect_eq "client does not reach db, on an internal network it is not on" "True" \
    "$(echo "$json" | python3 -c 'import json,sys; print(all(f["ok"] for f in json.load(sys.stdin)["findings"] if f.get("from") == "client" and f.get("to") == "db"))')"
expect_eq "db, only on an internal network, does not leave the host (its address outside them)" "True" \
    "$(echo "$json" | python3 -c 'import json,sys; f=[f for f in json.load(sys.stdin)["findings"] if f.get("table") == "egress" and f["expected"] == "blocked"]; print(len(f) == 1 and f[0]["from"] == "db" and f[0]["ok"])')"
expect_eq "the others, on networks that are not internal, reach the host outside them (egress)" "a b client other web" \
    "$(echo "$json" | python3 -c 'import json,sys; print(*sorted(f["from"] for f in json.load(sys.stdin)["findings"] if f.get("table") == "egress" and f["expected"] == "reach" and f["ok"]))')"
# A host firewall's input chain decides what reaches the host's address: egress is not judged there, and said.
nft add table inet hostfw
nft add chain inet hostfw in '{ type filter hook input priority 0; policy accept; }'
nft add rule inet hostfw in tcp dport 1 drop
json=$("$TOPO" probe -o json)
expect_eq "with another table's input chain, egress is not probed at the host's address" "0" \
    "$(echo "$json" | python3 -c 'import json,sys; print(sum(1 for f in json.load(sys.stdin)["findings"] if f.get("table") == "egress" and f["expected"] == "reach"))')"
expect_contains "and a note says which chain decides" "egress not probed at the host's address: table inet hostfw, chain in at the input hook" "$json"
nft delete table inet hostfw
expect_contains "-o markdown is a table for a CI summary" "| from \\ to |" "$("$TOPO" probe -o markdown)"
expect_eq "the listeners probe started are gone" "" "$(ip netns exec shop-db ss -Hltn)"

# 1. A sandbox's link down.
ip -n shop-db link set eth0 down
probe_broken "db's link down" "✘ web → db: tcp 10.31.0.2:47999 (network back): expected to reach" \
    "cause: topo would change: ~ veth" "shop-db:eth0" "peer state down → up"
check "apply repairs it" "$TOPO" apply
probe_ok "and the promises hold again"

# 2. The project's table flushed.
nft flush table inet topo-shop
probe_broken "the table flushed" "✘ host → web: 8080/tcp at 198.51.100.1 (ports): expected to reach" \
    "cause: topo would change: ~ nft-table topo-shop"
check "apply repairs it" "$TOPO" apply
probe_ok "and the promises hold again"

# 3. A sandbox's routes flushed.
ip -n shop-client route flush table main
probe_broken "client's routes flushed" "✘ client → web: tcp 10.30.0.3:47999 (network front): expected to reach" \
    "✘ client → host: tcp 198.51.100.1:47999 (the host outside the project's networks) (egress): expected to reach" \
    "cause: topo would change: + route shop-client:default"
check "apply repairs it" "$TOPO" apply
probe_ok "and the promises hold again"

# 4. A rule that joins two networks, inserted in topo's table.
front=$(ip -br link show type bridge | awk '/10.30.0.1/ {print $1}'); front=$(ip -o addr show | awk '$4 == "10.30.0.1/24" {print $2}')
side=$(ip -o addr show | awk '$4 == "10.32.0.1/24" {print $2}')
nft insert rule inet topo-shop forward iifname "$front" oifname "$side" accept
nft insert rule inet topo-shop forward iifname "$side" oifname "$front" accept
probe_broken "front and side joined" "✘ client → other: tcp 10.32.0.2:47999 (isolation): expected to be blocked, got connected" \
    "cause: topo would change: ~ nft-table topo-shop" "chains and rules differ"
check "apply repairs it" "$TOPO" apply
probe_ok "and the promises hold again"

# 5. A hosts file edited.
echo "10.9.9.9	db" >> /etc/netns/shop-web/hosts
probe_broken "web's hosts file edited" "✘ names in shop-web: its hosts file is not what topo wrote" "not topo's: db → 10.9.9.9"
check "apply repairs it" "$TOPO" apply
probe_ok "and the promises hold again"

# 6. A sandbox's namespace deleted.
ip netns del shop-db
probe_broken "db's namespace deleted" "✘ db → web: tcp 10.31.0.3:47999 (network back): expected to reach, got no namespace shop-db" \
    "cause: topo would change: + netns shop-db"
check "apply repairs it" "$TOPO" apply
probe_ok "and the promises hold again"

# watch --probe: after each run that changed something, a probe, in the status file and the log.
STATUS=${TOPO_STATE_DIR:-/var/lib/topo}/shop.status.json
wait_status() {  # wait_status WHAT PYTHON-CONDITION-ON-j
    local i
    for i in $(seq 1 100); do
        python3 -c "import json,sys; j=json.load(open('$STATUS')); sys.exit(0 if ($2) else 1)" 2>/dev/null && { pass "$1"; return 0; }
        sleep 0.1
    done
    fail "$1"; cat "$STATUS" | head -40 | sed 's/^/    /'; return 1
}
"$TOPO" destroy -y >/dev/null
"$TOPO" watch -f compose.yaml --probe --probe-timeout 500ms --interval 1h --debounce 100ms > watch.log 2>&1 &
WATCH=$!
wait_status "watch --probe: the first run's probe is in the status file, every promise kept" \
    'j["result"] == "applied" and j["probe"]["ok"] and j["probe"]["broken"] == 0 and j["probe"]["probes"] > 40'
expect_contains "and in the log" "; probe: " "$(cat watch.log)"
# Another table's rule drops what goes to the internal network; then an edit.
nft add table inet other
nft add chain inet other guard '{ type filter hook forward priority -10; policy accept; }'
nft add rule inet other guard ip daddr 10.31.0.0/24 drop
sed -i 's/^  other: {networks: \[side\]}$/  other: {networks: [side]}\n  extra: {networks: [side]}/' compose.yaml
wait_status "after the edit, the probe finds web → db broken, naming the other table" \
    'j["probe"]["broken"] > 0 and any(f.get("from") == "web" and f.get("to") == "db" and any("table inet other" in c for c in f["causes"]) for f in j["probe"]["findings"])'
expect_contains "the log says which promise broke" "✘ web → db: tcp 10.31.0.2:47999 (network back): expected to reach" "$(cat watch.log)"
nft delete table inet other
kill -TERM $WATCH; wait $WATCH || true
probed_at=$(python3 -c "import json; print(json.load(open('$STATUS'))['probe']['time'])")
"$TOPO" watch -f compose.yaml --probe --interval 1h > watch2.log 2>&1 &
W=$!
for i in $(seq 1 100); do grep -q "(start): no changes" watch2.log && break; sleep 0.1; done
expect_contains "a watch started again finds the host in sync" "(start): no changes" "$(cat watch2.log)"
kill -TERM $W; wait $W || true
expect_eq "a run that changed nothing does not probe" "" "$(grep '; probe:' watch2.log || true)"
expect_eq "and the status keeps the last probe, across the restart" "$probed_at" \
    "$(python3 -c "import json; print(json.load(open('$STATUS'))['probe']['time'])")"

probe_broken_one() { "$TOPO" probe client 2>&1 | head -1; }
expect_contains "probe SERVICE makes only the probes from or to it" "Probe shop:" "$(probe_broken_one)"
finish
