# Shared by the integration tests: a private test host and small assertions.
#
# Each test script calls `enter_test_host "$@"` first: it re-executes the script
# inside `unshare --net --mount` with private tmpfs mounts on /run/netns and
# /etc/netns, so the script's "host" is a throwaway network namespace and the
# machine's own network is never touched. Everything vanishes when it exits,
# programs included: the script is PID 1 of a PID namespace of its own, so
# the kernel ends whatever it started (a listener in a sandbox, a watch in
# another host's namespace) when it ends, however they were started.
set -euo pipefail

TOPO=${TOPO:-topo}
: "${TOPO_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

enter_test_host() {
    if [ "${TOPO_IN_TEST_HOST:-}" != 1 ]; then
        [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (private network namespaces)"; exit 77; }
        # /run/netns must exist for the mount below; creating an empty directory
        # is all this does outside the private namespace (as `ip netns add` would).
        mkdir -p /run/netns /etc/netns
        export TOPO_IN_TEST_HOST=1
        exec unshare --net --mount --propagation private --pid --fork --mount-proc bash "$0" "$@"
    fi
    mount -t tmpfs none /run/netns
    mount -t tmpfs none /etc/netns
    ip link set lo up
    WORK=$(mktemp -d /tmp/topo-test.XXXXXX)
    export TOPO_STATE_DIR="$WORK/state"
    # Background servers go too, even when the script stops early: left running,
    # they would keep ctest's output pipe open.
    trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
    cd "$WORK"
}

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
    local what=$1 out; shift
    if out=$("$@" 2>&1); then pass "$what"; else fail "$what"; echo "$out" | tail -5 | sed 's/^/    /'; fi
}
# refuse DESCRIPTION COMMAND...: the command must fail.
refuse() {
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then fail "$what (it succeeded)"; else pass "$what"; fi
}
# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected [$2], got [$3]"; fi
}
# expect_contains DESCRIPTION NEEDLE HAYSTACK
expect_contains() {
    case "$3" in *"$2"*) pass "$1" ;; *) fail "$1: [$2] not in [$3]" ;; esac
}
# expect_error DESCRIPTION MESSAGE COMMAND...: fails with exit 1 and MESSAGE on stderr.
expect_error() {
    local what=$1 msg=$2; shift 2
    local out rc=0
    out=$("$@" 2>&1 >/dev/null) || rc=$?
    if [ "$rc" != 1 ]; then fail "$what: exit code $rc, wanted 1 (output: $out)"; return; fi
    expect_contains "$what" "$msg" "$out"
}

# wait_listening NS COUNT: until NS has COUNT listening TCP sockets (at most
# 10 s), so a listener started in the background is there before it is used.
wait_listening() {
    local i
    for i in $(seq 1 100); do
        [ "$(ip netns exec "$1" ss -Hltn | wc -l)" -ge "$2" ] && return 0
        sleep 0.1
    done
    echo "# $1: fewer than $2 TCP listeners after 10 s"
}

# The host's uplink to a "world" namespace (the host 198.51.100.1, the world
# .2), to reach published ports as a user would; world_tcp ADDR:PORT says
# what answers there.
make_world() {
    ip netns add world
    ip link add up0 type veth peer name w0 netns world
    ip addr add 198.51.100.1/24 dev up0 && ip link set up0 up
    ip -n world addr add 198.51.100.2/24 dev w0 && ip -n world link set w0 up && ip -n world link set lo up
}
world_tcp() { ip netns exec world socat -T2 - TCP:"$1",connect-timeout=2 </dev/null 2>/dev/null; }

ping_ok() { ip netns exec "$1" ping -c1 -W1 "$2" >/dev/null 2>&1; }
# A reply to one of up to five pings, one at a time: for a peer whose neighbour
# entry may still be FAILED from pings that were blocked before. (One ping
# with a count stops once replies plus errors reach the count, so the errors
# of a FAILED entry end it before a reply comes.)
ping_soon() {
    local i
    for i in 1 2 3 4 5; do ip netns exec "$1" ping ${3:-} -c1 -W1 "$2" >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}

# Everything that identifies the host's network state, to compare before/after.
host_snapshot() {
    {
        # Running timers are the kernel's clock, not state: leave them out.
        ip -d link show | sed -E 's/ (link-netnsid|link-netns) [^ ]+//; s/ [a-z_]+_timer +[0-9.]+//g'
        # IPv6 link-local addresses and their routes are the kernel's own, and DAD may
        # finish between two snapshots: leave them out; so is the subnet-router
        # anycast route a link gets once IPv6 forwarding is on (topo turns it on
        # for a network with IPv6, and leaves it on: ARCHITECTURE.md, "Decisions").
        ip addr show | grep -v 'inet6 fe80::'
        ip route show table all | grep -v '^local fe80::\|^fe80::\|^anycast fe80::' 
        ip netns list
        nft list ruleset
        find /etc/netns | sort
    } 2>&1
}

# new_checkout DIR: an empty git repository at DIR (made), entered.
new_checkout() {
    mkdir -p "$1" && cd "$1"
    git init -q && git config user.email test@example.invalid && git config user.name test
}

# The changes of a JSON plan (or of each host's, for `plan --base` of several
# hosts) on standard input, one a line: host, action, kind and id.
plan_changes() { python3 -c '
import json, sys
j = json.load(sys.stdin)
for p in j.get("plans", [j]):
    for c in p["changes"]:
        print(p["host"] or "-", c["action"], c["kind"], c["id"])'; }

finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" = 0 ]
}
