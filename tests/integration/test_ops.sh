#!/usr/bin/env bash
# Operations (docs/cli.md, "Watch"): `topo watch --once` for cron and CI (exit 0
# in sync, 2 changed, 1 error), `topo status` reading back what the watch wrote
# (last run, last change, drift repaired, the manifest's git revision),
# `--metrics-file` in Prometheus' text format, and the progress line of a long
# apply on a terminal.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
export HOME=$WORK

new_checkout repo
cat > shop.yaml <<'YAML'
name: shop
networks:
  front: {ipam: {config: [{subnet: 10.70.0.0/24}]}}
services:
  web: {networks: [front]}
  db: {networks: [front]}
YAML
git add shop.yaml && git commit -qm shop
rev=$(git rev-parse HEAD)

once() { local rc=0; "$TOPO" watch --once -f shop.yaml --metrics-file "$WORK/topo.prom" "$@" >"$WORK/once.log" 2>&1 || rc=$?; echo "$rc"; }
expect_eq "watch --once builds the project: exit 2 (changed)" 2 "$(once)"
expect_eq "again: exit 0 (in sync)" 0 "$(once)"
status=$("$TOPO" status)
expect_contains "status: the last run" "shop: unchanged at " "$status"
expect_contains "the last change outlives the watch that made it" "last change: " "$status"
expect_contains "with what it did" "(start): 17 added, 1 changed, 0 destroyed" "$status"
expect_contains "the manifest's git revision" "manifest: $WORK/repo/shop.yaml at git ${rev:0:12}" "$status"
expect_eq "status -o json is the status file" "unchanged $rev" \
    "$("$TOPO" status -p shop -o json | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["result"], j["manifest"]["git_revision"])')"

echo "  cache: {networks: [front]}" >> shop.yaml
expect_eq "an edit: exit 2" 2 "$(once)"
expect_contains "status says the manifest differs from its commit" "(modified since)" "$("$TOPO" status)"
echo "  broken: {networks: [nowhere]}" >> shop.yaml
expect_eq "a manifest that does not validate: exit 1" 1 "$(once)"
expect_contains "and says why" "nowhere" "$(cat "$WORK/once.log")"
expect_contains "status says it" "shop: invalid at " "$("$TOPO" status)"
sed -i '/broken/d' shop.yaml
expect_error "status of a project never watched" "no status for project other" "$TOPO" status -p other

# The metrics file: Prometheus' text format, each family typed, every sample a number.
prom=$(cat "$WORK/topo.prom")
expect_contains "runs by result" 'topo_runs_total{project="shop",result="invalid"} 1' "$prom"
expect_contains "objects managed" 'topo_managed_objects{project="shop"} ' "$prom"
expect_eq "every line is a comment or a sample" "" \
    "$(grep -vE '^# (HELP|TYPE) topo_[a-z_]+ |^topo_[a-z_]+\{project="[^"]*"(,result="[a-z]+")?\} [0-9.]+$' "$WORK/topo.prom")"
check "and it is replaced whole: no temporary file is left" test -z "$(ls -A "$WORK" | grep -v '^\(repo\|state\|topo.prom\|once.log\)$')"

# Drift repaired by a watch that keeps running, counted in the status and the metrics.
"$TOPO" watch -f shop.yaml --metrics-file "$WORK/topo.prom" --debounce 100ms --interval 1h > "$WORK/watch.log" 2>&1 &
WATCH=$!
for i in $(seq 1 50); do grep -q '"result": "unchanged"' "$TOPO_STATE_DIR/shop.status.json" 2>/dev/null && break; sleep 0.1; done
ip netns del shop-db
for i in $(seq 1 100); do grep -q 'topo_drift_repairs_total{project="shop"} 1' "$WORK/topo.prom" && break; sleep 0.1; done
expect_contains "a deleted sandbox is drift the watch repairs, counted" 'topo_drift_repairs_total{project="shop"} 1' "$(cat "$WORK/topo.prom")"
expect_contains "status says so" "drift repaired: 1 time since" "$("$TOPO" status)"
kill -TERM $WATCH; wait $WATCH || true
"$TOPO" destroy -f shop.yaml -y >/dev/null

# The progress line: on a terminal, for a run that takes a while; not when piped, not with -q.
{ echo "name: big"; echo "networks:"; echo "  n: {ipam: {config: [{subnet: 10.80.0.0/20}]}}"; echo "services:"
  for i in $(seq 1 800); do echo "  s$i: {networks: [n]}"; done; } > big.yaml
tty_out=$(script -qec "$TOPO apply -f big.yaml -y" /dev/null)
expect_contains "a long apply on a terminal shows how far it is" "applying: " "$tty_out"
expect_eq "how many of how many" 1 "$(echo "$tty_out" | tr '\r' '\n' | grep -acE '^applying: [0-9]+ of 48[0-9]{2} changes$' | grep -q '[1-9]' && echo 1)"
expect_contains "and wipes it at the end" $'\r\033[K' "$tty_out"
"$TOPO" destroy -f big.yaml -y >/dev/null
piped=$("$TOPO" apply -f big.yaml -y 2>&1 | cat)
expect_eq "not when standard error is not a terminal" "" "$(echo "$piped" | grep 'applying:' || true)"
"$TOPO" destroy -f big.yaml -y >/dev/null
expect_eq "nor with -q" "" "$(script -qec "$TOPO apply -q -f big.yaml -y" /dev/null | grep 'applying:' || true)"
"$TOPO" destroy -f big.yaml -y >/dev/null
finish
