#!/usr/bin/env bash
# Sets everything up and runs every test: unit tests (no root needed) and the
# integration tests, each inside its own private network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
packaging/build.sh
ctest --test-dir build --output-on-failure "$@"
