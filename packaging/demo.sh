#!/usr/bin/env bash
# The README's first command: sets everything up, then shows topo's main job in
# a throwaway network namespace — plan, apply, real traffic, a no-op re-plan,
# destroy. The machine's own network is never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${TOPO_DEMO_INSIDE:-}" != 1 ]; then
    packaging/install-deps.sh
    packaging/build.sh >/dev/null
    mkdir -p /run/netns /etc/netns
    export TOPO_DEMO_INSIDE=1
    exec unshare --net --mount --propagation private "$0"
fi
mount -t tmpfs none /run/netns
mount -t tmpfs none /etc/netns
ip link set lo up
export TOPO_STATE_DIR=$(mktemp -d) NO_COLOR=1
topo=build/topo
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }

run cat examples/demo.yaml
run $topo validate -f examples/demo.yaml
run $topo plan -f examples/demo.yaml
run $topo apply -f examples/demo.yaml --auto-approve
run $topo show -f examples/demo.yaml
run ip netns exec demo-web ping -c1 -W1 10.10.1.2
say "ip netns exec demo-web ping -c1 -W1 10.10.2.3   # db is on another network: blocked"
ip netns exec demo-web ping -c1 -W1 10.10.2.3 >/dev/null 2>&1 && echo "reached (unexpected)" || echo "unreachable, as the manifest says"
run $topo plan -f examples/demo.yaml
run $topo destroy -f examples/demo.yaml --auto-approve
run ip netns list
