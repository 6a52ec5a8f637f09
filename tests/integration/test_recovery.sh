#!/usr/bin/env bash
# Reliability without the happy path: a damaged or lost state record, and a
# kernel that refuses a change half-way through a plan.
#   - a damaged record stops plan/apply/destroy with an error that says how to
#     rebuild it; `topo recover` rebuilds it from the kernel's markers, and the
#     next plan is empty (no address changed);
#   - with the state directory lost, apply keeps every address the kernel holds;
#   - a sysctl the kernel refuses to write (read-only) fails the apply with the
#     object and the kernel's message, and the host is exactly as before.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

cat > net.yaml <<'YAML'
name: rec
networks:
  lan: {}
  back: {internal: true}
services:
  web: {networks: [lan, back], ports: ["8080"]}
  db: {networks: [back]}
  cache: {networks: [back]}
YAML
addresses() {  # every sandbox's IPv4 addresses, and the published port's map element
    for ns in $(ip netns list | awk '{print $1}' | sort); do
        echo "$ns $(ip -n "$ns" -4 -br addr show | awk '$1 != "lo" {print $1, $3}' | sort | tr '\n' ' ')"
    done
    nft list map inet topo-rec ports 2>/dev/null | grep -o 'tcp . [0-9]* : [0-9.]* . 8080' || true
}
plan_rc() { local rc=0; "$TOPO" plan -f net.yaml --detailed-exitcode >/dev/null 2>&1 || rc=$?; echo "$rc"; }

check "apply" "$TOPO" apply -f net.yaml -y
built=$(addresses)
expect_contains "web has its ephemeral port in the map" "tcp . 49153 :" "$built"

# --- A damaged record. ---------------------------------------------------------
truncate -s 30 "$TOPO_STATE_DIR/rec.json"
for cmd in plan apply destroy; do
    expect_error "$cmd refuses a damaged record and says how to rebuild it" \
        "state file $TOPO_STATE_DIR/rec.json is damaged (" "$TOPO" "$cmd" -f net.yaml $([ $cmd = plan ] || echo -y)
done
expect_error "the error names the command that rebuilds it" "run \`topo recover --project rec\` to rebuild it" \
    "$TOPO" plan -f net.yaml
expect_eq "nothing changed" "$built" "$(addresses)"
out=$("$TOPO" recover -f net.yaml 2>&1)
expect_contains "recover reads the markers" \
    "Recovered the record of project rec from the kernel: 2 network(s), 4 endpoint(s), 1 ephemeral port(s)" "$out"
expect_contains "and keeps the damaged file" "The damaged record is kept as $TOPO_STATE_DIR/rec.json.damaged" "$out"
expect_eq "after recover the next plan is empty" 0 "$(plan_rc)"
expect_eq "and a second apply changes no address" "$built" "$("$TOPO" apply -f net.yaml -y >/dev/null; addresses)"

# --- A lost state directory. -----------------------------------------------------
rm -rf "$TOPO_STATE_DIR"
# a-first sorts before the others: a fresh allocation would give it their addresses.
sed -i 's/^services:$/services:\n  a-first: {networks: [lan, back], ports: ["9090"]}/' net.yaml
out=$("$TOPO" apply -f net.yaml -y 2>&1)
expect_contains "apply without a record destroys nothing" "to change, 0 to destroy" "$out"
expect_eq "and changes only the port map and the files that name the new service" \
    "~ nft-table topo-rec|~ file /etc/netns/.topo-rec/back|~ file /etc/netns/rec-web/hosts|" \
    "$(grep -E '^  (~|-|±) ' <<<"$out" | awk '{print $1, $2, $3}' | tr '\n' '|')"
now=$(addresses)
for ns in rec-cache rec-db rec-web; do
    expect_eq "$ns keeps its addresses" "$(grep "^$ns " <<<"$built")" "$(grep "^$ns " <<<"$now")"
done
expect_contains "and web keeps its ephemeral port" "$(grep 'tcp . ' <<<"$built")" "$now"

out=$("$TOPO" recover --project nothing-here 2>&1 || true)
expect_contains "recover of a project with nothing on the host says so" \
    "finds nothing of project nothing-here on this host to rebuild its record from" "$out"

# --- A kernel refusal half-way: ip_forward made read-only. ------------------------
check "destroy" "$TOPO" destroy -f net.yaml -y
echo 0 > "$WORK/ip_forward"
mount --bind "$WORK/ip_forward" /proc/sys/net/ipv4/ip_forward
mount -o remount,bind,ro /proc/sys/net/ipv4/ip_forward
before=$(host_snapshot)
rc=0; out=$("$TOPO" apply -f net.yaml -y 2>&1) || rc=$?
expect_eq "apply fails when the kernel refuses a sysctl" 1 "$rc"
expect_contains "the error names the object and the kernel's message" \
    "apply: sysctl net/ipv4/ip_forward: open: Read-only file system" "$out"
expect_contains "and says it rolled back, proved by a read-back" "rolled back this run's changes; read back, the host is as it was" "$out"
expect_eq "the host is exactly as before" "$before" "$(host_snapshot)"
expect_eq "no record is left of the failed first apply" "" "$(ls "$TOPO_STATE_DIR" | grep -v '\.lock$' || true)"
umount /proc/sys/net/ipv4/ip_forward
check "with the sysctl writable again, apply succeeds" "$TOPO" apply -f net.yaml -y
check "destroy" "$TOPO" destroy -f net.yaml -y
expect_eq "nothing of the project is left" "" "$(ip netns list; ls /etc/netns; nft list tables | grep topo || true)"
finish
