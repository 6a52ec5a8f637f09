#!/usr/bin/env bash
# Configures and builds topo into ./build (extra arguments go to cmake).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DTOPO_WERROR=ON "$@" >/dev/null
ninja -C build
