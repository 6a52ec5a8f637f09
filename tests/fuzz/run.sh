#!/usr/bin/env bash
# Builds the manifest fuzzer with clang + libFuzzer (+ASan/UBSan) and runs it
# for a bounded time (default 60 s) on a seed corpus made from examples/.
# Whatever it finds is saved under build-fuzz/crashes/ and must become a unit test.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/../.."
seconds=${1:-60}
command -v clang++ >/dev/null || { echo "SKIP: no clang++"; exit 0; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DTOPO_FUZZ=ON -DTOPO_SANITIZE=ON >/dev/null
ninja -C build-fuzz fuzz_manifest >/dev/null
mkdir -p build-fuzz/corpus build-fuzz/crashes
cp examples/*.yaml build-fuzz/corpus/ 2>/dev/null || true
# Exits non-zero on a crash, a leak, a hang over 10 s or memory over the limit.
build-fuzz/fuzz_manifest -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix=build-fuzz/crashes/ build-fuzz/corpus 2>&1 | grep -E "DONE|ERROR|SUMMARY|Done [0-9]+ runs|Test unit written"
test -z "$(ls build-fuzz/crashes)"
