#!/usr/bin/env bash
# The Compose corpus (tests/compose/): projects written as people write them,
# each in a directory with its .env, override and included files. For each,
# in a copy of its directory and without -f (so topo finds compose.yaml and
# its override as `docker compose` does): `topo validate`; `topo config -o
# json` equal to its expected.json; apply; its serve.sh (real connections);
# the next plan empty; destroy; and the host as it was before.
#
# TOPO_COMPOSE_REGEN=1 writes each expected.json from what topo says instead
# of comparing (then read the diff before committing it).
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
make_world

# serve NETNS PORT WORD: a program in the sandbox that answers WORD on PORT.
serve() {
    ip netns exec "$1" socat TCP6-LISTEN:"$2",fork,reuseaddr,ipv6only=0 SYSTEM:"echo $3" </dev/null >/dev/null 2>&1 &
    local i
    for i in $(seq 1 100); do
        [ -n "$(ip netns exec "$1" ss -Hltn "sport = :$2")" ] && return 0
        sleep 0.1
    done
    echo "# $1: nothing listens on $2 after 10 s"
}

for dir in "$TOPO_SRC"/tests/compose/*/; do
    name=$(basename "$dir")
    rm -rf "$WORK/$name" && cp -a "$dir" "$WORK/$name" && cd "$WORK/$name"
    before=$(host_snapshot)
    check "$name: validate finds compose.yaml and its override" "$TOPO" validate
    config=$("$TOPO" config -o json 2>"$WORK/config.err") || true
    if [ "${TOPO_COMPOSE_REGEN:-}" = 1 ]; then
        echo "$config" | python3 -m json.tool --indent 2 > "$dir/expected.json"
    fi
    same=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])) == json.loads(sys.argv[2]))' \
        expected.json "$config" 2>&1 || true)
    expect_eq "$name: topo config -o json is expected.json" "True" "$same"
    [ "$same" = True ] || diff <(python3 -m json.tool expected.json) <(echo "$config" | python3 -m json.tool) || true
    check "$name: apply" "$TOPO" apply
    # shellcheck source=/dev/null
    source ./serve.sh
    rc=0; "$TOPO" plan --detailed-exitcode >/dev/null 2>&1 || rc=$?
    expect_eq "$name: with programs running, the next plan is empty" 0 "$rc"
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    check "$name: destroy" "$TOPO" destroy
    expect_eq "$name: the host is as it was" "$before" "$(host_snapshot)"
done
finish
