#!/usr/bin/env bash
# Crash safety. `topo apply` and `topo destroy` are killed with SIGKILL at
# random moments on a 60-service manifest (3 bridge networks, multi-homed
# services, published ports). After every kill:
#   - the next `topo apply` exits 0 and a following `plan --detailed-exitcode`
#     is empty (the host converged), or, after every other killed destroy and
#     every other killed first apply, the next `topo destroy` exits 0 and
#     leaves nothing of the project;
#   - every 5th kill (and after the last) a destroy leaves the host exactly as
#     it was before the test: no link, netns, /etc/netns entry or nftables
#     table of the project, no state record, and the foreign bridge, veth
#     pair, namespace, /etc/netns entry and nftables table the test made
#     beforehand untouched.
# Killed applies run from nothing (after a destroy) or change the host towards
# a variant manifest (services removed, added and re-homed, ports changed), so
# kills land in creations, deletions and updates alike; every other killed
# apply from nothing is followed by a destroy instead of an apply.
#
#   CRASH_KILLS  how many kills (default 20; CI may run e.g. CRASH_KILLS=6)
#   CRASH_SEED   seed of the random delays (default 20240611; printed). A seed
#                repeats the same sequence of commands and delays; where in
#                topo's work a delay lands still varies a little with the
#                machine's load, so repeat a failing seed a few times.
# A full apply of the 60 services takes ~0.15 s here, a destroy ~0.25 s: the
# default 20 kills run in about 10 s. Every 5th kill's destroy leaves the host
# empty; the next kill is then one of an apply from nothing, and the apply after
# it builds the project again.
# A failure prints what went wrong (the command's output, the killed run's
# output, links, namespaces, /run/netns, /etc/netns, the ruleset, the state
# directory) with the seed and the kill that reproduce it; the test then puts
# the host back to nothing (destroy --collect, leftovers removed; said so in
# the output) and goes on, so one run reports every kind of failure. It stops
# after CRASH_MAX_FAILURES (default 20) failures. The host's full state is
# printed the first time each kind of failure shows; a summary of the kinds
# of failure comes last.
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
KILLS=${CRASH_KILLS:-20}
SEED=${CRASH_SEED:-20240611}
MAX_FAILURES=${CRASH_MAX_FAILURES:-20}
echo "# seed $SEED, $KILLS kills (repeat with CRASH_SEED=$SEED CRASH_KILLS=$KILLS)"

# A seeded generator of our own (64-bit LCG), so the moments do not depend on
# bash's RANDOM implementation.
rng=$SEED
rand() {  # rand N: a number in [0, N)
    rng=$(( rng * 6364136223846793005 + 1442695040888963407 ))
    REPLY=$(( ((rng >> 33) & 0x7fffffff) % $1 ))
}
at() { [ "$i" = 0 ] && echo calibration || echo "kill $i"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- The foreign objects that must survive everything. ----------------------
ip link add userbr type bridge
ip link set userbr up
ip link add uveth0 type veth peer name uveth1
ip link set uveth0 master userbr
ip netns add userns
ip link set uveth1 netns userns
mkdir -p /etc/netns/userns && echo "10.99.0.1 userhost" > /etc/netns/userns/hosts
nft add table inet user
nft add chain inet user input '{ type filter hook input priority 0; policy accept; }'
nft add rule inet user input tcp dport 9999 counter accept
ip addr add 10.99.0.1/24 dev userbr
ip link set uveth0 up
ip -n userns link set uveth1 up
# Let the kernel settle the foreign links (bridge carrier, port state) first.
before=$(host_snapshot)
for _ in $(seq 1 25); do
    sleep 0.2; now=$(host_snapshot)
    [ "$now" = "$before" ] && break
    before=$now
done

# --- The manifests. -----------------------------------------------------------
# m.yaml: 60 services on 3 networks; every 7th service also on the next
# network, s0 and s30 on all three; every 10th publishes a port (s20 a udp one).
# m2.yaml: s50..s59 gone, v0..v9 new, s1..s5 re-homed, s10's port changed.
python3 - <<'PY'
def manifest(variant):
    out = ["name: crash", "networks:"]
    for n in range(3):
        out.append(f"  n{n}:\n    ipam: {{config: [{{subnet: 10.7{n}.0.0/24}}]}}")
    out.append("services:")
    names = [f"s{i}" for i in range(60)]
    if variant:
        names = names[:50] + [f"v{i}" for i in range(10)]
    for k, name in enumerate(names):
        i = int(name[1:]) if name[0] == "s" else 100 + int(name[1:])
        nets = [f"n{i % 3}"]
        if i % 7 == 0:
            nets.append(f"n{(i + 1) % 3}")
        if name in ("s0", "s30"):
            nets = ["n0", "n1", "n2"]
        if variant and 1 <= i <= 5 and name[0] == "s":
            nets = [f"n{(i + 1) % 3}"]
        ports = ""
        if name[0] == "s" and i % 10 == 0:
            pub = 30000 + i + (1000 if variant and i == 10 else 0)
            proto = "/udp" if i == 20 else ""
            ports = f', ports: ["{pub}:80{proto}"]'
        out.append(f"  {name}: {{networks: [{', '.join(nets)}]{ports}}}")
    return "\n".join(out) + "\n"
open("m.yaml", "w").write(manifest(False))
open("m2.yaml", "w").write(manifest(True))
PY

# --- Checks and failure reports. ------------------------------------------------
declare -A KINDS=()   # failure kind (its description without "kill N: ") -> count
report() {  # report WHAT OUTPUT: a failure, with everything needed to reproduce it
    fail "$1"
    BROKEN=1
    local kind=${1#*: } first=0
    [ -n "${KINDS[$kind]:-}" ] || first=1
    KINDS[$kind]=$(( ${KINDS[$kind]:-0} + 1 ))
    {
        echo "==== reproduce: CRASH_SEED=$SEED CRASH_KILLS=$KILLS (kill $i of $KILLS: $what after $delay ms)"
        echo "==== the failing command's output:"; echo "$2" | tail -40
        [ "$i" = 0 ] || { echo "==== the killed run's output (last lines):"; tail -3 killed.out; }
        if [ "$first" = 1 ]; then   # the host's state, the first time this kind of failure shows
            echo "==== ip -br link"; ip -br link
            echo "==== ip netns list"; ip netns list
            echo "==== ls -la /run/netns /etc/netns"; ls -la /run/netns /etc/netns
            echo "==== find /etc/netns"; find /etc/netns | sort
            echo "==== nft list ruleset"; nft list ruleset
            echo "==== state dir $TOPO_STATE_DIR"; ls -la "$TOPO_STATE_DIR" 2>&1
            echo "==== topo plan -f m.yaml (without the file lines)"; "$TOPO" plan -f m.yaml 2>&1 | grep -v '^  + file' | tail -30
        fi
    } 2>&1 | sed 's/^/    /'
}
plan_line() { grep -E '^(Plan:|No changes)' <<<"$1" | tail -1 || true; }
# run CMD...: runs topo, its output in $OUT and exit code in $RC.
run() { RC=0; OUT=$("$TOPO" "$@" 2>&1) || RC=$?; }
# judge WHAT: the last run must have exited 0.
judge() { if [ "$RC" = 0 ]; then pass "$1"; else report "$1: exit code $RC" "$OUT"; fi; }
converged() {  # after an apply: plan --detailed-exitcode must be 0
    run plan -f m.yaml --detailed-exitcode
    if [ "$RC" = 0 ]; then pass "$(at): the host converged (plan is empty)"
    else report "$(at): the host did not converge: plan --detailed-exitcode exits $RC" "$OUT"; fi
}
clean() {  # after a destroy: nothing of the project left, foreign objects intact
    local now left
    now=$(host_snapshot)
    if [ "$now" = "$before" ]; then pass "$(at): after destroy the host is as before the test"
    else report "$(at): after destroy the host is not as before the test (diff before/after)" \
        "$(diff <(echo "$before") <(echo "$now"))"; return; fi
    left=$(ls "$TOPO_STATE_DIR" 2>/dev/null | grep -v '^crash\.lock$' | grep -v '^_host\.lock$' || true)
    if [ -z "$left" ]; then pass "$(at): no state record or residue of the project"
    else report "$(at): residue in the state directory after destroy" "$left"; fi
}
# After a failure: back to nothing, so that the next kills are tested on their own.
reset_host() {
    echo "# reset after the failure: destroy --collect, leftovers of the project removed"
    local out rc=0 now
    out=$("$TOPO" destroy --project crash --collect -y 2>&1) || rc=$?
    now=$(host_snapshot)
    if [ "$rc" != 0 ] || [ "$now" != "$before" ]; then
        echo "# (destroy --collect exited $rc and left this, removed by the test:)"
        { [ "$rc" = 0 ] || echo "$out" | tail -3; diff <(echo "$before") <(echo "$now") || true; } | sed 's/^/    /'
    fi
    rm -rf /etc/netns/crash-* "$TOPO_STATE_DIR"/crash.json* "$TOPO_STATE_DIR"/crash.status.json*
    if [ "$(host_snapshot)" != "$before" ]; then
        echo "# the host could not be put back; stopping"
        { diff <(echo "$before") <(host_snapshot) || true; } | head -20 | sed 's/^/    /' || true
        STOP=1
    fi
    BROKEN=0
    full=0
}

# --- Calibration: one full run of each kind. ----------------------------------
i=0; what=calibration; delay=0; BROKEN=0; STOP=0
t=$(now_ms); run apply -f m.yaml -y; t_apply=$(( $(now_ms) - t )); judge "a full apply of 60 services"
t=$(now_ms); run plan -f m.yaml --detailed-exitcode; t_plan=$(( $(now_ms) - t )); judge "plan after it is empty"
t=$(now_ms); run apply -f m2.yaml -y; t_change=$(( $(now_ms) - t )); judge "apply of the variant manifest"
run apply -f m.yaml -y; judge "and back"
t=$(now_ms); run destroy -f m.yaml -y; t_destroy=$(( $(now_ms) - t )); judge "a full destroy"
clean
echo "# a full apply takes $t_apply ms, a no-op plan $t_plan ms, a change to the variant $t_change ms, a destroy $t_destroy ms"
[ "$FAILED" = 0 ] || { echo "# calibration failed; no kills"; finish; }

# --- The kills. ------------------------------------------------------------------
full=0          # is the whole project applied (as in m.yaml)?
destroy_kills=0
first_apply_kills=0
started=$(now_ms)
kills=0
for i in $(seq 1 "$KILLS"); do
    [ "$STOP" = 0 ] && [ "$FAILED" -lt "$MAX_FAILURES" ] || break
    if [ "$full" = 0 ]; then cmd=apply; file=m.yaml; span=$t_apply; what="apply from nothing"
    elif [ $((i % 2)) = 1 ]; then cmd=destroy; file=m.yaml; span=$t_destroy; what=destroy
    else cmd=apply; file=m2.yaml; span=$t_change; what="apply of the variant"
    fi
    rand $(( span * 9 / 10 > 5 ? span * 9 / 10 - 4 : 1 )); delay=$(( 5 + REPLY ))
    "$TOPO" "$cmd" -f "$file" -y >killed.out 2>&1 &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -9 "$pid" 2>/dev/null || true
    krc=0; wait "$pid" 2>/dev/null || krc=$?
    kills=$((kills + 1))
    [ "$krc" = 137 ] || what="$what; it had finished, exit $krc"

    if [ "$cmd" = destroy ] && grep -q '^Destroy complete' killed.out; then
        # The destroy had done everything, its record is gone too: the project no
        # longer exists (a destroy of it would be refused as one of an unknown
        # project). Check that it is all gone.
        [ "$krc" = 137 ] && what="$what; killed after printing \"Destroy complete\""
        echo "# kill $i after $delay ms ($what): the destroy had completed"
        clean
        full=0
    elif [ "$cmd" = destroy ] && [ $((destroy_kills++ % 2)) = 0 ]; then
        # A killed destroy is completed by the next destroy.
        run destroy -f m.yaml -y
        echo "# kill $i after $delay ms ($what): next destroy: $(plan_line "$OUT")"
        judge "$(at): the next destroy completes the killed one"
        [ "$BROKEN" = 1 ] || clean
        full=0
    elif [ "$cmd" = apply ] && [ "$file" = m.yaml ] && [ "$krc" = 137 ] && [ $((first_apply_kills++ % 2)) = 1 ]; then
        # A killed apply is undone by the next destroy.
        run destroy -f m.yaml -y
        echo "# kill $i after $delay ms ($what): next destroy: $(plan_line "$OUT")"
        if [ "$RC" = 0 ] && grep -q '^Nothing to destroy' <<<"$OUT"; then
            # Nothing of the project: right only if the kill came before the
            # apply made anything, which clean() checks.
            echo "# (destroy: nothing of the project on the host)"
            clean
        else
            judge "$(at): the next destroy removes what the killed apply made"
            [ "$BROKEN" = 1 ] || clean
        fi
        full=0
    else
        run apply -f m.yaml -y
        echo "# kill $i after $delay ms ($what): next apply: $(plan_line "$OUT")"
        judge "$(at): the next apply succeeds"
        [ "$BROKEN" = 1 ] || converged
        full=1
        if [ "$BROKEN" = 0 ] && { [ $((i % 5)) = 0 ] || [ "$i" = "$KILLS" ]; }; then
            run destroy -f m.yaml -y
            judge "$(at): destroy after the converged apply"
            [ "$BROKEN" = 1 ] || clean
            full=0   # the next kill is then one of an apply from nothing
        fi
    fi
    [ "$BROKEN" = 0 ] || reset_host
done
echo "# $kills kills in $(( ($(now_ms) - started) / 1000 )) s"
if [ "$STOP" = 0 ] && [ "$full" = 1 ]; then
    i=$KILLS; what="final destroy"; delay=0
    run destroy -f m.yaml -y
    judge "final destroy"
    [ "$BROKEN" = 1 ] || clean
fi
[ "$FAILED" -lt "$MAX_FAILURES" ] || echo "# stopped after $FAILED failures"
for k in "${!KINDS[@]}"; do echo "# failed ${KINDS[$k]} time(s): $k"; done
finish
