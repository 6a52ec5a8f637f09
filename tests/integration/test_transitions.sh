#!/usr/bin/env bash
# Random day-2 changes on the real kernel, with a program running in every
# sandbox (tests/gen: the same pairs as the unit test's, from the same seeds):
# apply A, start a listener in each sandbox, apply B, apply A again. Every
# apply must succeed and converge (the next plan is empty), every listener of
# a sandbox that stays must still run and answer, and every pair of sandboxes
# on one network must reach each other exactly when the network allows it.
# A failure prints the seed: TOPO_GEN_SEED=<seed> TOPO_GEN_PAIRS=1 reruns it.
# Before B is applied over A (applied from nothing), the plan on paper
# (`plan --base A`, no kernel) must be the plan the real host gives, change
# by change — but for sysctls: topo leaves forwarding on after a destroy
# (ARCHITECTURE.md, "Decisions"), so earlier cases leave this host unlike
# the fresh one on paper. (Back from B to A, the host's history differs from
# A built from nothing, addresses included: no comparison there.)
# Finally destroy --kill ends the listeners and leaves the host as it was.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"

SEED=${TOPO_GEN_SEED:-20261201}
PAIRS=${TOPO_GEN_PAIRS:-24}
GEN=${TOPO_GEN:-$TOPO_SRC/build/topo_gen_manifests}
mkdir cases
"$GEN" "$SEED" "$PAIRS" cases
before=$(host_snapshot)

declare -A LISTENER  # netns -> pid of its listener
start_listeners() {
    local ns
    for ns in $(ip netns list | awk '{print $1}'); do
        [ -n "${LISTENER[$ns]:-}" ] && continue
        ip netns exec "$ns" socat TCP-LISTEN:80,fork,reuseaddr SYSTEM:"echo $ns" </dev/null >/dev/null 2>&1 &
        LISTENER[$ns]=$!
    done
    for ns in "${!LISTENER[@]}"; do [ -e "/run/netns/$ns" ] && wait_listening "$ns" 1; done
}
# Listeners of sandboxes that stay must still run; those of removed ones are forgotten.
check_listeners() {
    local ns lost=""
    for ns in "${!LISTENER[@]}"; do
        if [ -e "/run/netns/$ns" ]; then
            kill -0 "${LISTENER[$ns]}" 2>/dev/null || lost="$lost $ns"
        else
            kill "${LISTENER[$ns]}" 2>/dev/null || true
            unset "LISTENER[$ns]"
        fi
    done
    [ -z "$lost" ] || { echo "listeners gone in:$lost"; return 1; }
}

# step SEED SIDE [APPLIED]: apply one side of a case (APPLIED: the side on the
# host before) and check everything; the reason on failure.
step() {
    local seed=$1 side=$2 applied=${3:-} out real paper
    if [ "$applied" = a ] && [ "$side" = b ]; then
        real=$("$TOPO" plan -f "cases/$seed.$side.yaml" -o json | plan_changes | grep -v ' sysctl ' || true)
        paper=$("$TOPO" plan -f "cases/$seed.$side.yaml" --base "cases/$seed.$applied.yaml" -o json | plan_changes | grep -v ' sysctl ' || true)
        [ "$real" = "$paper" ] || { echo "plan --base $applied differs from the host's plan: $(diff <(echo "$real") <(echo "$paper") | head -6 | tr '\n' ' ')"; return 1; }
    fi
    out=$("$TOPO" apply -f "cases/$seed.$side.yaml" -y 2>&1) || { echo "apply $side failed: $(echo "$out" | grep -v '^  [-+~±]' | tail -4)"; return 1; }
    out=$("$TOPO" plan -f "cases/$seed.$side.yaml" --detailed-exitcode 2>&1) || { echo "plan after apply $side is not empty: $out"; return 1; }
    check_listeners || return 1
    start_listeners
    "$TOPO" show -f "cases/$seed.$side.yaml" -o json > show.json
    ip -j -d link show > links.json
    out=$(python3 "$TOPO_SRC/tests/integration/reach.py" show.json links.json "cases/$seed.$side.no-icc" 2>&1) ||
        { echo "traffic after apply $side: $out"; return 1; }
}

for ((i = 0; i < PAIRS; i++)); do
    seed=$((SEED + i)) why=""
    LISTENER=()
    applied=""
    for side in a b a; do
        why=$(step "$seed" "$side" "$applied") || break
        why="" applied=$side
    done
    if [ -z "$why" ]; then pass "seed $seed: A → B → A ($(cat "cases/$seed.edits"))"
    else fail "TOPO_GEN_SEED=$seed TOPO_GEN_PAIRS=1: $why"; echo "    edits: $(cat "cases/$seed.edits")"; fi
    out=$("$TOPO" destroy -f "cases/$seed.a.yaml" -y --kill --timeout 2s 2>&1) || { fail "seed $seed: destroy: $out"; continue; }
    for ns in "${!LISTENER[@]}"; do
        kill -0 "${LISTENER[$ns]}" 2>/dev/null && { fail "seed $seed: destroy --kill left the listener of $ns running"; kill "${LISTENER[$ns]}"; }
    done
    wait 2>/dev/null || true
done
expect_eq "after every destroy the host is as it was" "$before" "$(host_snapshot)"
finish
