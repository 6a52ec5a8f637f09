#!/usr/bin/env bash
# Crash safety: topo apply and topo destroy are killed with SIGKILL at random
# moments on a 60-service manifest; each time the next apply must converge (a
# following plan is empty), and every few kills a destroy must leave the host
# exactly as it was before the test. Repeatable: KILL_SEED picks the moments.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
KILLS=${KILL_COUNT:-20}
RANDOM=${KILL_SEED:-4242}
echo "# seed ${KILL_SEED:-4242}, $KILLS kills"

# Foreign objects that must survive everything.
ip link add userbr type bridge
ip netns add userns
nft add table inet user
before=$(host_snapshot)

python3 - <<'PY' > m.yaml
print("name: crash\nnetworks:")
for n in range(3):
    print(f"  n{n}:\n    ipam: {{config: [{{subnet: 10.7{n}.0.0/24}}]}}")
print("services:")
for i in range(60):
    nets = [f"n{i % 3}"] + ([f"n{(i + 1) % 3}"] if i % 7 == 0 else [])
    ports = f', ports: ["{30000 + i}:80"]' if i % 10 == 0 else ""
    print(f"  s{i}: {{networks: [{', '.join(nets)}]{ports}}}")
PY

s=$(date +%s%N); "$TOPO" apply -f m.yaml -y >/dev/null; full=$(( ($(date +%s%N) - s) / 1000000 ))
echo "# a full apply takes $full ms"
"$TOPO" destroy -f m.yaml -y >/dev/null

converged() { local rc=0; "$TOPO" plan -f m.yaml --detailed-exitcode >/dev/null 2>&1 || rc=$?; [ "$rc" = 0 ]; }
for i in $(seq 1 "$KILLS"); do
    if [ $((i % 2)) = 0 ] && [ -e "$TOPO_STATE_DIR/crash.json" ]; then cmd=destroy; else cmd=apply; fi
    delay=$(( 5 + RANDOM % (full + 1) ))
    "$TOPO" "$cmd" -f m.yaml -y >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '0.%03d' "$delay")" 2>/dev/null || sleep 1
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    next=$("$TOPO" apply -f m.yaml -y 2>&1 | tail -1)
    echo "# kill $i after $delay ms ($cmd); next apply: $next"
    check "kill $i: the next apply converges (plan is empty)" converged
    if [ $((i % 5)) = 0 ]; then
        "$TOPO" "$cmd" -f m.yaml -y >/dev/null 2>&1 &
        pid=$!; sleep "0.0$((RANDOM % 9 + 1))"; kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true
        check "kill $i: destroy completes after a killed run" "$TOPO" destroy -f m.yaml -y
        expect_eq "kill $i: after destroy the host is as before the test" "$before" "$(host_snapshot)"
        check "kill $i: and it builds again from nothing" "$TOPO" apply -f m.yaml -y
    fi
done
check "final destroy" "$TOPO" destroy -f m.yaml -y
expect_eq "nothing of the project is left" "$before" "$(host_snapshot)"
finish
