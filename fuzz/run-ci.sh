#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time, starting from the corpus
# kept in fuzz/corpus/<target>/ (inputs found earlier, minimised and
# committed), so each run goes on where the last one stopped. A crash, a
# leak, an out-of-memory or a timeout fails the script and leaves the input
# in fuzz/artifacts/<target>/.
#
#   FUZZ_SECONDS  seconds per target (default 20)
#
# cargo-fuzz needs nightly flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them (see docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-20}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

cargo fuzz build -O
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    before=$(find "corpus/$target" -type f | wc -l)
    echo "fuzz: $target for ${seconds}s from $before corpus inputs"
    status=0
    cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$log" | tr '\n' ' ' || true
    echo
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$log" >&2
        echo "fuzz: $target FAILED (status $status); the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
done
echo "fuzz: every target ran ${seconds}s without a failure"
