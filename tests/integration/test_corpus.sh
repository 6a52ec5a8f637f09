#!/usr/bin/env bash
# The hostile-input corpus (tests/corpus, its README says how a case is
# written): every case is refused by `topo apply` with exit 1 and exactly its
# expected messages, and the host is byte-for-byte what it was afterwards.
# Each case's time and peak memory are measured (GNU time), and the worst of
# each kind is reported at the end.
#
# TOPO_CORPUS_REGEN=1 writes each case's .err from what topo says instead of
# checking it (for a new case: read what it wrote before committing it).
source "$(dirname "$0")/lib.sh"
enter_test_host "$@"
CORPUS="$TOPO_SRC/tests/corpus"

# A project already applied, and a user's bridge: neither may change.
printf 'name: keep\nservices:\n  a: {}\n' > good.yaml
"$TOPO" apply -f good.yaml >/dev/null
ip link add userbr type bridge
before=$(host_snapshot)

declare -A worst_time worst_time_case worst_mem worst_mem_case
record() {  # record KIND CASE SECONDS KIB
    if [ -z "${worst_time[$1]:-}" ] || awk "BEGIN{exit !($3 > ${worst_time[$1]})}"; then
        worst_time[$1]=$3 worst_time_case[$1]=$2
    fi
    if [ -z "${worst_mem[$1]:-}" ] || [ "$4" -gt "${worst_mem[$1]}" ]; then
        worst_mem[$1]=$4 worst_mem_case[$1]=$2
    fi
}

# run_case KIND NAME EXPECTED_FILE COMMAND...: in the current directory.
run_case() {
    local kind=$1 name=$2 expected=$3
    shift 3
    local rc=0
    /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" </dev/null || rc=$?
    read -r secs kib < <(tail -1 "$WORK/time")  # after "Command exited with non-zero status"
    record "$kind" "$name" "$secs" "$kib"
    if [ "${TOPO_CORPUS_REGEN:-}" = 1 ]; then
        cp "$WORK/err" "$expected"
        pass "$kind/$name: wrote $(basename "$expected")"
    elif [ "$rc" != 1 ]; then
        fail "$kind/$name: exit code $rc, wanted 1 ($(head -c 300 "$WORK/err"))"
    elif ! diff -u "$expected" "$WORK/err" > "$WORK/diff"; then
        fail "$kind/$name: messages differ:"
        head -20 "$WORK/diff"
    else
        pass "$kind/$name ($secs s, $((kib / 1024)) MiB)"
    fi
}

# Lines starting "# setup: " or "# teardown: " at the top of a case are run
# in the test host before and after it.
directives() { sed -n "s/^# $1: //p" "$2"; }

for dir in "$CORPUS"/*/; do
    kind=$(basename "$dir")
    for f in "$dir"*.yaml "$dir"*.sh; do
        [ -e "$f" ] || continue
        name=$(basename "${f%.*}")
        mkdir -p "$WORK/case" && cd "$WORK/case"
        if [[ $f == *.yaml ]]; then
            cp "$f" .
            eval "$(directives setup "$f")"
            run_case "$kind" "$name" "${f%.yaml}.err" "$TOPO" apply -y -f "$name.yaml"
            eval "$(directives teardown "$f")"
        else
            # A generated case: the script makes its input here and sets
            # `args` (topo's arguments); one whose messages are too many to
            # keep writes them to expected.err, else they are in NAME.err.
            args=()
            source "$f"
            expected="${f%.sh}.err"
            [ -e expected.err ] && expected=$WORK/case/expected.err
            run_case "$kind" "$name" "$expected" "$TOPO" "${args[@]}"
        fi
        cd "$WORK" && rm -rf "$WORK/case"
    done
done

expect_eq "after all of them the host is byte-for-byte unchanged" "$before" "$(host_snapshot)"
"$TOPO" destroy -f good.yaml >/dev/null

echo "# worst case of each kind (time; peak memory):"
for kind in "${!worst_time[@]}"; do
    echo "#   $kind: ${worst_time[$kind]} s (${worst_time_case[$kind]}); $((worst_mem[$kind] / 1024)) MiB (${worst_mem_case[$kind]})"
done | sort
finish
