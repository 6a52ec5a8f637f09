#!/usr/bin/env bash
# Builds the fuzzers with clang + libFuzzer (+ASan/UBSan) and runs each for a
# bounded time: the manifest reader (default 60 s, seeded from examples/) and
# the nftables transaction builder (half as long).
# Whatever it finds is saved under build-fuzz/crashes/ and must become a unit test.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/../.."
seconds=${1:-60}
command -v clang++ >/dev/null || { echo "SKIP: no clang++"; exit 0; }
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DTOPO_FUZZ=ON -DTOPO_SANITIZE=ON >/dev/null
ninja -C build-fuzz fuzz_manifest fuzz_nft_batch >/dev/null
mkdir -p build-fuzz/corpus build-fuzz/corpus-nft build-fuzz/crashes
cp examples/*.yaml build-fuzz/corpus/ 2>/dev/null || true
# Each exits non-zero on a crash, a leak, a hang over 10 s or memory over the limit.
echo "-- the manifest reader, $seconds s"
build-fuzz/fuzz_manifest -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix=build-fuzz/crashes/ build-fuzz/corpus 2>&1 | grep -E "DONE|ERROR|SUMMARY|Done [0-9]+ runs|Test unit written"
echo "-- the nftables transaction builder, $((seconds / 2)) s"
build-fuzz/fuzz_nft_batch -max_total_time="$((seconds / 2))" -max_len=4096 -len_control=0 -rss_limit_mb=2048 -timeout=20 \
    -artifact_prefix=build-fuzz/crashes/ build-fuzz/corpus-nft 2>&1 | grep -E "DONE|ERROR|SUMMARY|Done [0-9]+ runs|Test unit written"
test -z "$(ls build-fuzz/crashes)"
