# Shared by the benchmarks: timing, medians, waiting for a quiet CPU, and the
# private namespace a benchmark runs in. Sourced after SETTLE is set.

now() { date +%s%N; }
ms() { echo $(( ($(now) - $1) / 1000000 )); }
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The kernel goes on working after a command returns: it tears deleted
# namespaces down in the background (seconds after 1000 of them), and new
# links run IPv6 autoconfiguration. Whatever is timed next would share the
# CPU with that, so every measurement starts on a quiet machine: at least
# 90% idle over one second, waiting at most $SETTLE seconds.
quiet() {
    local a b i t k
    for i in $(seq "$SETTLE"); do
        read -ra a < /proc/stat; sleep 1; read -ra b < /proc/stat
        t=0; for k in 1 2 3 4 5 6 7 8; do t=$((t + b[k] - a[k])); done
        [ $(( (b[4] - a[4]) * 100 )) -ge $(( t * 90 )) ] && return
    done
    [ "$SETTLE" = 0 ] || echo "bench: the CPU was not quiet after $SETTLE s; measuring anyway" >&2
}

# Outside the private namespace: runs the script ($1) again inside one, as
# root, with BENCH_INSIDE=1 and TOPO passed on. Inside, returns.
run_inside() {
    [ "${BENCH_INSIDE:-}" = 1 ] && return
    [ "$(id -u)" = 0 ] || { echo "run as root (it works in private namespaces only)"; exit 1; }
    mkdir -p /run/netns /etc/netns
    BENCH_INSIDE=1 TOPO=$TOPO exec unshare --net --mount --propagation private bash "$1"
}

# Inside the private namespace (`unshare --net --mount`, entered by the
# script with BENCH_INSIDE=1): its own /run/netns and /etc/netns, a work
# directory W and a state directory, gone when the script ends.
enter_bench_host() {
    mount -t tmpfs none /run/netns
    mount -t tmpfs none /etc/netns
    ip link set lo up
    W=$(mktemp -d)
    export TOPO_STATE_DIR=$W/state NO_COLOR=1
    trap 'rm -rf "$W"' EXIT
}
