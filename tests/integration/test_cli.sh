#!/usr/bin/env bash
# The CLI's contract (docs/cli.md): output formats, saved plans and staleness,
# drift repair, the per-project lock, destroy's record check, external
# bridges, and refusing to take over objects topo did not create.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

cat > net.yaml <<'YAML'
name: shop
networks:
  lan:
    ipam: {config: [{subnet: 10.5.0.0/24}]}
services:
  a: {networks: [lan]}
  b: {networks: [lan]}
YAML

"$TOPO" plan -f net.yaml -o json > plan.json
expect_eq "plan -o json: format_version 1; 2 netns, bridge, 2 veth, 3 addresses, 2 routes, 6 files (hosts and resolv.conf links, the network's hosts file, the shared resolv.conf), the table" \
    "1 create:17 netns:2 bridge:1 veth:2 address:3 route:2 file:6 nft-table:1" "$(python3 -c '
import json, collections; p = json.load(open("plan.json"))
kinds = collections.Counter(c["kind"] for c in p["changes"])
print(p["format_version"], "create:%d" % p["summary"]["create"], " ".join(f"{k}:{kinds[k]}" for k in ("netns","bridge","veth","address","route","file","nft-table")))')"
check "plan -o markdown is a review comment" sh -c "\"$TOPO\" plan -f net.yaml -o markdown | grep -q '^### topo plan: \`shop\`'"
rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "plan --detailed-exitcode exits 2 when there are changes" 2 "$rc"
trace=$(TOPO_TRACE=1 "$TOPO" plan -f net.yaml 2>&1 >/dev/null)
expect_contains "TOPO_TRACE=1 reports the phases on stderr" "topo: trace: read sandboxes" "$trace"
expect_eq "and nothing without it" "" "$("$TOPO" plan -f net.yaml 2>&1 >/dev/null)"
check "apply --dry-run changes nothing" "$TOPO" apply -f net.yaml --dry-run
expect_eq "no namespace after a dry run" "" "$(ip netns list)"

# Saved plans are carried out exactly, and refused once the host has changed.
check "plan --out saves the plan" "$TOPO" plan -f net.yaml --out saved.json
check "apply PLAN carries it out" "$TOPO" apply saved.json
expect_error "a saved plan is of the whole manifest" "plan --out saves a plan of the whole manifest; leave out the service names" \
    "$TOPO" plan -f net.yaml a --out part.json
expect_error "apply takes one saved plan" "apply takes one saved plan; to apply services, pass the manifest with -f FILE" \
    "$TOPO" apply saved.json other.json
check "a is up" ping_ok shop-a 10.5.0.3
rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "and the host matches the manifest" 0 "$rc"
echo "  c: {networks: [lan]}" >> net.yaml
check "plan --out for one more service" "$TOPO" plan -f net.yaml --out stale.json
ip netns del shop-b   # drift, behind topo's back
expect_error "a stale plan is refused" "is stale: the host changed since it was made" "$TOPO" apply stale.json
expect_eq "the refused plan changed nothing" "shop-a" "$(ip netns list | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
"$TOPO" plan -f net.yaml > drift.txt
expect_contains "plan shows the drift" "+ netns    shop-b" "$(cat drift.txt)"
check "apply repairs the drift" "$TOPO" apply -f net.yaml
check "b is back and reachable" ping_ok shop-a 10.5.0.3
check "c was added" ping_ok shop-c 10.5.0.2

# topo graph: the addresses it draws are the ones the kernel holds; Graphviz
# reads it; it writes nothing.
state_files() { find "$TOPO_STATE_DIR" -printf '%p %s %T@\n' | sort; }
before=$(state_files)
"$TOPO" graph -f net.yaml > net.dot
for s in a b c; do
    expect_contains "graph labels $s's endpoint with the address it has" \
        "\"svc/$s\" -- \"net/lan\" [label=\"eth0 $(ip -n shop-$s -4 -o addr show eth0 | awk '{sub("/.*", "", $4); print $4}')\"]" "$(cat net.dot)"
done
check "dot -Tsvg renders it" sh -c "dot -Tsvg net.dot > net.svg && grep -q '<title>svc/c</title>' net.svg"
expect_contains "graph --format mermaid" "flowchart LR" "$("$TOPO" graph -f net.yaml --format mermaid)"
expect_eq "graph left the state directory as it was" "$before" "$(state_files)"
expect_error "graph --format takes dot or mermaid" "--format: svg not in {dot,mermaid}" \
    "$TOPO" graph -f net.yaml --format svg
expect_contains "graph draws every host of a multi-host manifest, with no --host" 'label="host node2 (192.0.2.11)"' \
    "$("$TOPO" graph -f "$TOPO_SRC/examples/multi-host-overlay.yaml")"
printf 'services:\n  x: {networks: [nope]}\n' > bad.yaml
expect_error "graph of a bad manifest names the key" 'bad.yaml:2:17: services.x.networks.nope: unknown network "nope"' \
    "$TOPO" graph -f bad.yaml

# One run per project at a time.
flock "$TOPO_STATE_DIR/shop.lock" sleep 3 &
sleep 0.3
expect_error "a second run fails after --lock-timeout" "project shop is locked by another topo run" \
    "$TOPO" apply -f net.yaml --lock-timeout 500ms
wait

# destroy wants a record of the project, or --collect.
mv "$TOPO_STATE_DIR/shop.json" shop.json.saved
expect_error "destroy without a record is refused" "run \`topo destroy --project shop --collect\`" \
    "$TOPO" destroy --project shop
check "destroy --collect removes what is marked as the project's" "$TOPO" destroy --project shop --collect
expect_eq "nothing left" "" "$(ip netns list; ip -br link | grep -E '^t[bvx]' || true)"
rc=0; out=$("$TOPO" destroy --project nosuch 2>&1) || rc=$?
expect_eq "destroy of a project that is not there succeeds (a retried destroy must)" 0 "$rc"
expect_contains "and says there was nothing" "Nothing to destroy: topo has no record of project nosuch" "$out"

# External bridges are attached to, never touched.
ip link add br-ext type bridge
ip addr add 10.6.0.1/24 dev br-ext
ip link set br-ext up
# Attaching a port changes a bridge's carrier and MAC (the kernel's doing); what
# topo could change — addresses, MTU, state, alias, master — must stay the same.
ext_state() { ip -j -d addr show br-ext | python3 -c 'import json,sys; l=json.load(sys.stdin)[0]; print(l["mtu"], l.get("ifalias"), l.get("master"), "UP" in l["flags"], [(a["local"],a["prefixlen"]) for a in l["addr_info"] if a["family"]=="inet"])'; }
ext_before=$(ext_state)
cat > ext.yaml <<'YAML'
name: ext
networks:
  outside:
    external: true
    name: br-ext
    ipam: {config: [{subnet: 10.6.0.0/24, gateway: 10.6.0.1}]}
services:
  x: {networks: [outside]}
YAML
check "apply attaches to an external bridge" "$TOPO" apply -f ext.yaml
check "the sandbox reaches the external bridge's address" ping_ok ext-x 10.6.0.1
check "the veth is a port of br-ext" sh -c "bridge link | grep -q 'master br-ext'"
check "destroy" "$TOPO" destroy -f ext.yaml
expect_eq "br-ext is unchanged" "$ext_before" "$(ext_state)"
cat > missing.yaml <<'YAML'
name: miss
networks:
  outside: {external: true, name: br-nope, ipam: {config: [{subnet: 10.7.0.0/24}]}}
services:
  x: {networks: [outside]}
YAML
expect_error "a missing external bridge is an error, at its key" "missing.yaml:3:35: networks.outside.name: external bridge br-nope does not exist on this host" \
    "$TOPO" apply -f missing.yaml

# topo never takes over what it did not create.
ip link add mybr type bridge
cat > conflict.yaml <<'YAML'
name: conf
networks:
  n: {name: mybr, ipam: {config: [{subnet: 10.8.0.0/24}]}}
services:
  x: {networks: [n]}
YAML
expect_error "a bridge name that is taken is refused" "bridge mybr exists and is not topo's" \
    "$TOPO" apply -f conflict.yaml
expect_eq "and nothing was created" "" "$(ip netns list)"

# An automatic subnet avoids what the host already routes (a user's bridge on
# Docker's first pool), and topo's own networks are not in its way.
ip link add br-used type bridge && ip addr add 172.17.5.1/16 dev br-used && ip link set br-used up
cat > auto.yaml <<'YAML'
name: auto
networks:
  n: {}
services:
  a: {networks: [n]}
YAML
check "apply with an automatic subnet" "$TOPO" apply -f auto.yaml
expect_eq "it is the next free pool, not the routed one" "172.18.0.2/16" \
    "$(ip netns exec auto-a ip -4 -br addr show eth0 | awk '{print $3}')"
rc=0; "$TOPO" plan -f auto.yaml --detailed-exitcode >/dev/null || rc=$?
expect_eq "its own route does not move it on the next plan" 0 "$rc"
check "destroy it" "$TOPO" destroy -f auto.yaml
# (What topo refuses to read is in tests/corpus/inputs.)
check "a manifest is read from standard input with -f -" bash -c "\"$TOPO\" validate -f - < auto.yaml"
finish
