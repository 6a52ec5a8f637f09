#!/usr/bin/env bash
# Day-2 edits of a running project, each a regression test with real packets
# and a program running in the sandboxes: a subnet change and a network
# rename converge in one apply and keep the sandboxes (and what runs in
# them); destroy never waits on a namespace a program holds, names the
# programs, and --kill ends them; a user's veth between two sandboxes does
# not stall it either.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
before=$(host_snapshot)

manifest() {  # manifest NETWORK SUBNET
    cat > net.yaml <<YAML
name: day
networks:
  $1:
    ipam: {config: [{subnet: $2}]}
services:
  web:
    networks: [$1]
  db:
    networks: [$1]
YAML
}
addr() { ip -n "$1" -4 -o addr show eth0 | awk '{sub("/.*", "", $4); print $4}'; }
ifindex() { ip -n "$1" -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])'; }
web_answers() { [ "$(ip netns exec day-db socat -T1 - "TCP:$(addr day-web):80,connect-timeout=1" </dev/null 2>/dev/null)" = web ]; }
converges() {
    local out
    out=$("$TOPO" apply -f net.yaml -y 2>&1) || { echo "$out" | tail -3; return 1; }
    "$TOPO" plan -f net.yaml --detailed-exitcode >/dev/null
}

manifest front 10.71.0.0/24
check "apply" "$TOPO" apply -f net.yaml -y
ip netns exec day-web socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo web' </dev/null >/dev/null 2>&1 &
LISTENER=$!
wait_listening day-web 1
check "web's listener answers db" web_answers
idx=$(ifindex day-web)

# A subnet change: once, the route was planned twice and the apply rolled back.
manifest front 10.72.0.0/24
check "a subnet change converges in one apply (the next plan is empty)" converges
expect_eq "web has an address in the new subnet" "10.72.0.3" "$(addr day-web)"
expect_eq "its interface was changed in place (same ifindex)" "$idx" "$(ifindex day-web)"
expect_eq "and its MAC follows the address" "02:42:0a:48:00:03" \
    "$(ip -n day-web -j link show eth0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')"
check "the listener still runs" kill -0 $LISTENER
check "and answers db at the new address" web_answers
check "web's default route is the new gateway" test "$(ip -n day-web route show default | awk '{print $3}')" = 10.72.0.1

# A network rename: once, the first apply left the sandboxes without addresses.
manifest back 10.72.0.0/24
check "a network rename converges in one apply" converges
expect_eq "web keeps its address" "10.72.0.3" "$(addr day-web)"
check "the listener still runs" kill -0 $LISTENER
check "and answers db" web_answers
expect_eq "the old bridge is gone, the new one has the gateway" "10.72.0.1/24" \
    "$(ip -j addr show | python3 "$TOPO_SRC/tests/integration/ipaddr.py" 10.72.0.)"

# Back again, both at once.
manifest front 10.71.0.0/24
check "back to the first manifest in one apply" converges
check "the listener answers at the first address" web_answers

# A user's veth between the two sandboxes, and programs in them.
ip -n day-web link add uv0 type veth peer name uv1 netns day-db
ip netns exec day-db sleep 1000 </dev/null >/dev/null 2>&1 &
SLEEPER=$!
sleep 0.2
expect_contains "show lists the programs in each sandbox" "process $LISTENER socat TCP-LISTEN:80" \
    "$("$TOPO" show -f net.yaml)"
start=$(date +%s)
out=$("$TOPO" destroy -f net.yaml -y 2>&1) || fail "destroy failed: $out"
took=$(( $(date +%s) - start ))
check "destroy with programs running finishes at once (${took}s)" test "$took" -lt 5
expect_contains "and names the programs left running" "day-web: pid $LISTENER (socat TCP-LISTEN:80" "$out"
expect_contains "with the way to end them" "topo destroy --kill" "$out"
check "the programs still run (topo does not end what it did not start)" kill -0 $LISTENER
expect_eq "nothing of the project is left" "" "$(ip netns list; ls /etc/netns; nft list tables | grep topo; ip link | grep -E ' t[bv][0-9a-f]{13}' || true)"
kill $LISTENER $SLEEPER 2>/dev/null; wait 2>/dev/null || true

# --kill: the signal, then SIGKILL after --timeout for a program that ignores it.
check "apply again" "$TOPO" apply -f net.yaml -y
ip netns exec day-web socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo web' </dev/null >/dev/null 2>&1 &
POLITE=$!
ip netns exec day-db bash -c 'trap "" TERM; while :; do sleep 0.1; done' </dev/null >/dev/null 2>&1 &
STUBBORN=$!
wait_listening day-web 1
out=$("$TOPO" destroy -f net.yaml -y --kill --timeout 1s 2>&1) || fail "destroy --kill failed: $out"
expect_contains "destroy --kill says which program needed SIGKILL" "still running after 1000 ms, sending SIGKILL" "$out"
check "the polite program ended" bash -c "! kill -0 $POLITE 2>/dev/null"
check "the stubborn one too" bash -c "! kill -0 $STUBBORN 2>/dev/null"
expect_error "an unknown signal is refused" "--kill=SIGFOO: not a signal" "$TOPO" destroy -f net.yaml -y --kill=SIGFOO
wait 2>/dev/null || true
expect_eq "the host is as it was" "$before" "$(host_snapshot)"

# A service removed while a program runs in it: apply names the program and
# leaves it running without a network; apply --kill ends it first, and only
# it (web's program runs on).
manifest front 10.71.0.0/24
check "apply again, for a service to remove" "$TOPO" apply -f net.yaml -y
ip netns exec day-web socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:'echo web' </dev/null >/dev/null 2>&1 &
WEB=$!
ip netns exec day-db sleep 1000 </dev/null >/dev/null 2>&1 &
DB=$!
wait_listening day-web 1
sed -i '/^  db:/,$d' net.yaml
out=$("$TOPO" apply -f net.yaml -y --dry-run 2>&1)
expect_contains "the plan removes db's sandbox" "- netns    day-db" "$out"
out=$("$TOPO" apply -f net.yaml -y --kill --timeout 2s 2>&1) || fail "apply --kill failed: $out"
check "apply --kill ended the program in db's sandbox" bash -c "! kill -0 $DB 2>/dev/null"
check "and left web's running" kill -0 $WEB
expect_eq "db's sandbox is gone" "" "$(ip netns list | grep -w day-db || true)"
check "and the next plan is empty" "$TOPO" plan -f net.yaml --detailed-exitcode
manifest front 10.71.0.0/24
check "db comes back" "$TOPO" apply -f net.yaml -y
ip netns exec day-db sleep 1000 </dev/null >/dev/null 2>&1 &
DB=$!
sleep 0.2
sed -i '/^  db:/,$d' net.yaml
out=$("$TOPO" apply -f net.yaml -y 2>&1) || fail "apply failed: $out"
expect_contains "without --kill, apply names the program it leaves without a network" "day-db: pid $DB (sleep 1000)" "$out"
expect_contains "with the way to end it next time" "(\`topo apply --kill\` ends them first)" "$out"
check "and the program still runs (topo does not end what it did not start)" kill -0 $DB
kill $WEB $DB 2>/dev/null; wait 2>/dev/null || true
check "destroy" "$TOPO" destroy -f net.yaml -y
expect_eq "the host is as it was" "$before" "$(host_snapshot)"

# SIGTERM and SIGINT during an apply: the run stops after the change in
# progress, is rolled back and read back, and says so; exit 1.
python3 - > many.yaml <<'PY'
print("name: many\nnetworks:\n  n:\n    ipam: {config: [{subnet: 10.73.0.0/22}]}\nservices:")
for i in range(150):
    print(f"  s{i}:\n    networks: [n]")
PY
for sig in TERM INT; do
    "$TOPO" apply -f many.yaml -y > interrupted.txt 2>&1 &
    pid=$!
    # Once the first sandbox exists, the run is carrying out its plan.
    for i in $(seq 1 200); do [ -e /run/netns/many-s0 ] && break; sleep 0.01; done
    kill -$sig $pid
    rc=0; wait $pid || rc=$?
    out=$(cat interrupted.txt)
    expect_eq "SIG$sig during apply: exit 1" 1 "$rc"
    expect_contains "SIG$sig: says where it stopped" "apply: interrupted by SIG$sig after" "$out"
    expect_contains "SIG$sig: rolled back and proved by a read-back" "rolled back this run's changes; read back, the host is as it was" "$out"
    expect_eq "SIG$sig: the host is as it was" "$before" "$(host_snapshot)"
done
finish
