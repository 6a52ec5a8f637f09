#!/usr/bin/env bash
# topo watch (docs/cli.md, "Watch"): it builds the manifest, follows edits made as
# editors and git make them, repairs drift made with ip and nft, keeps the last
# good state when a manifest breaks, and leaves the network up when stopped.
# Checked with ip, nft, ping and real TCP from a "world" namespace.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

make_world  # the host's uplink, to reach published ports as a user would

manifest() {  # manifest PORT [EXTRA SERVICE]: written elsewhere and renamed over, as editors and git do
    {
        cat <<YAML
name: shop
networks:
  front:
    ipam: {config: [{subnet: 10.61.0.0/24}]}
services:
  web:
    networks: [front]
    ports: ["$1:80"]
  db:
    networks: [front]
YAML
        [ -z "${2:-}" ] || printf '  %s:\n    networks: [front]\n' "$2"
    } > shop.yaml.new
    mv shop.yaml.new shop.yaml
}

LOG=$WORK/watch.log
# wait_log DESCRIPTION PATTERN: a line matching PATTERN after the mark (10 s at most).
MARK=0
mark() { MARK=$(wc -l < "$LOG"); }
wait_log() {
    local i
    for i in $(seq 1 100); do
        if tail -n +$((MARK + 1)) "$LOG" | grep -q -- "$2"; then pass "$1"; return 0; fi
        sleep 0.1
    done
    fail "$1: no log line with [$2] after 10 s"
    tail -n +$((MARK + 1)) "$LOG" | sed 's/^/    /'
    return 1
}

manifest 8080
"$TOPO" watch -f shop.yaml --log-format json --interval 1h --debounce 100ms > "$LOG" 2>&1 &
WATCH=$!
wait_log "the first run applies the manifest" '"result":"applied","time":"[^"]*","trigger":"start"'
expect_eq "both sandboxes exist" "shop-db shop-web" "$(ip netns list | awk '/^shop/ {print $1}' | sort | xargs)"
addr_of() { ip -n "$1" -4 -br addr show eth0 | awk '{print $3}' | cut -d/ -f1; }
DB=$(addr_of shop-db)
expect_eq "db has the network's first address" "10.61.0.2" "$DB"
check "web reaches db" ping_soon shop-web "$DB"
ip netns exec shop-web socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo hello from web' &
wait_listening shop-web 1
expect_eq "the world reaches web's published port" "hello from web" "$(world_tcp 198.51.100.1:8080)"
web_ifindex=$(ip -n shop-web -o link show eth0 | cut -d: -f1)

# A manifest edited in place and renamed over: only what changed is touched.
mark
manifest 8081 cache
wait_log "an edited manifest is applied" '"result":"applied","time":"[^"]*","trigger":"manifest"'
expect_contains "the new sandbox exists" "shop-cache" "$(ip netns list)"
CACHE=$(addr_of shop-cache)
expect_eq "cache has the next address" "10.61.0.4" "$CACHE"
check "web reaches the new sandbox" ping_soon shop-web "$CACHE"
expect_eq "the new port is published" "hello from web" "$(world_tcp 198.51.100.1:8081)"
expect_eq "the old port is not" "" "$(world_tcp 198.51.100.1:8080)"
expect_eq "web's interface was not made again" "$web_ifindex" "$(ip -n shop-web -o link show eth0 | cut -d: -f1)"

# Drift made with ip and nft is repaired, each from the kernel's events.
mark
ip -n shop-db link del eth0
wait_log "a deleted sandbox interface is drift" '"result":"applied","time":"[^"]*","trigger":"drift"'
expect_eq "db has its address again" "$DB" "$(addr_of shop-db)"
check "web reaches db again" ping_soon shop-web "$DB"

mark
bridge=$(ip -br link show type bridge | awk '{print $1}')
ip addr flush dev "$bridge"
wait_log "a flushed bridge address is drift" '"result":"applied","time":"[^"]*","trigger":"drift"'
expect_contains "the bridge has its gateway again" "10.61.0.1/24" "$(ip -br addr show "$bridge")"

mark
nft flush map inet topo-shop ports
wait_log "a flushed map of published ports is drift" '"result":"applied","time":"[^"]*","trigger":"drift"'
expect_eq "the published port works again" "hello from web" "$(world_tcp 198.51.100.1:8081)"

mark
nft delete table inet topo-shop
wait_log "a deleted nftables table is drift" '"result":"applied","time":"[^"]*","trigger":"drift"'
expect_eq "the published port works again" "hello from web" "$(world_tcp 198.51.100.1:8081)"

mark
ip netns del shop-cache
wait_log "a deleted sandbox is drift" '"result":"applied","time":"[^"]*","trigger":"drift"'
expect_contains "the sandbox is back" "shop-cache" "$(ip netns list)"
check "and reachable" ping_soon shop-web "$CACHE"

# A broken manifest changes nothing, says where it is broken, and drift is
# still repaired against the last good one.
before=$(host_snapshot)
mark
printf 'services:\n  web:\n    networks: [front\n' > shop.yaml.new && mv shop.yaml.new shop.yaml
wait_log "a broken manifest is reported" '"result":"invalid"'
expect_contains "with the file, line and column" 'shop.yaml:4:' "$(tail -n +$((MARK + 1)) "$LOG")"
expect_eq "and nothing was changed" "$before" "$(host_snapshot)"
expect_contains "the status file says so" '"result": "invalid"' "$(cat "$TOPO_STATE_DIR/shop.status.json")"
mark
ip -n shop-db link del eth0
wait_log "drift is repaired from the last good manifest" '"result":"applied","time":"[^"]*","trigger":"drift"'
check "web reaches db" ping_soon shop-web "$DB"
mark
manifest 8081 cache
wait_log "the mended manifest matches the host" '"result":"unchanged","time":"[^"]*","trigger":"manifest"'

# A changed manifest wins over nothing else: plan agrees that the host matches.
expect_contains "topo plan finds nothing to do" "No changes." "$("$TOPO" plan -f shop.yaml)"

# A destroy beside the watch: the watch builds the project again, whole, with
# its hosts and resolv.conf files (it once did so without them, "unchanged").
mark
check "destroy beside the watch" "$TOPO" destroy -f shop.yaml -y
wait_log "the watch rebuilds the destroyed project" '"result":"applied","time":"[^"]*","trigger":"drift"'
# Its first run may be a focused one, from the kernel's events of the veths
# going, before /run/netns said the sandboxes went: the full run follows.
for i in $(seq 1 50); do "$TOPO" plan -f shop.yaml --detailed-exitcode >/dev/null 2>&1 && break; sleep 0.1; done
expect_contains "whole: topo plan finds nothing to do" "No changes." "$("$TOPO" plan -f shop.yaml)"
check "web's hosts file is back" test -e /etc/netns/shop-web/hosts
check "and names db" ip netns exec shop-web getent hosts db

mark
kill -TERM $WATCH
rc=0; wait $WATCH || rc=$?
expect_eq "SIGTERM ends the watch with 0" 0 "$rc"
expect_contains "and says the network stays" "watch stopped" "$(cat "$LOG")"
check "the network stays up" ping_soon shop-web "$DB"

# --interval: what sends no events (a sysctl, a hosts file) is repaired by the resync.
echo 0 > /proc/sys/net/ipv4/ip_forward
echo "# edited" >> /etc/netns/shop-web/hosts
: > "$LOG"; MARK=0
"$TOPO" watch -f shop.yaml --log-format json --interval 1s > "$LOG" 2>&1 &
WATCH=$!
wait_log "the first run repairs what it finds" '"trigger":"start"'
# Broken again: a run on drift may put the sysctl back first (every run
# reads the sysctls), but only the resync reads the files.
mark
echo 0 > /proc/sys/net/ipv4/ip_forward
echo "# edited" >> /etc/netns/shop-web/hosts
wait_log "the resync runs" '"result":"applied","time":"[^"]*","trigger":"interval"'
expect_eq "forwarding is on again" 1 "$(cat /proc/sys/net/ipv4/ip_forward)"
kill -INT $WATCH; wait $WATCH || true
expect_eq "the hosts file is topo's again" "" "$(grep edited /etc/netns/shop-web/hosts || true)"

# A directory: every *.yaml a project, named by its file; --prune destroys
# the project of a removed manifest, and only it.
mkdir -p projects
for p in alpha beta; do
    n=$([ $p = alpha ] && echo 62 || echo 63)
    printf 'networks:\n  net:\n    ipam: {config: [{subnet: 10.%s.0.0/24}]}\nservices:\n  box:\n    networks: [net]\n' "$n" \
        > projects/$p.yaml
done
: > "$LOG"; MARK=0
"$TOPO" watch -f projects --prune --log-format json --debounce 100ms > "$LOG" 2>&1 &
WATCH=$!
wait_log "alpha is applied" '"project":"alpha","result":"applied"'
wait_log "beta is applied" '"project":"beta","result":"applied"'
expect_eq "each file is a project" "alpha-box beta-box" "$(ip netns list | awk '/box/ {print $1}' | sort | xargs)"
mark
rm projects/beta.yaml
wait_log "a removed manifest's project is destroyed" '"project":"beta","result":"destroyed"'
expect_eq "beta's sandbox is gone, alpha's stays" "alpha-box" "$(ip netns list | awk '{print $1}' | grep box | xargs)"
kill -TERM $WATCH; wait $WATCH || true

# Bad invocations say what is wrong.
expect_error "no manifest" "say what to watch" "$TOPO" watch
expect_error "a missing manifest" "nothing.yaml: no such file or directory" "$TOPO" watch -f nothing.yaml
expect_error "one project name for a directory" "drop -p" "$TOPO" watch -f projects -p one
expect_error "too short an interval" "--interval must be at least 1s" "$TOPO" watch -f shop.yaml --interval 10ms
expect_error "a duration without a number" "abc: use a whole number with ms, s, m or h" \
    "$TOPO" watch -f shop.yaml --debounce abc

finish
