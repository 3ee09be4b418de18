#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time: `scripts/fuzz.sh [seconds]`
# (default 60 per target). cargo-fuzz needs nightly-only compiler flags; this
# machine has one stable toolchain, so RUSTC_BOOTSTRAP=1 unlocks them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-60}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
mkdir -p logs
for target in $(cargo fuzz list); do
    mkdir -p "corpus/$target"
    echo "==> fuzz $target for ${seconds}s"
    if ! cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 >"logs/$target.log" 2>&1; then
        tail -n 40 "logs/$target.log" >&2
        echo "fuzz target $target failed; input in fuzz/artifacts/$target" >&2
        exit 1
    fi
    grep -E '^#[0-9]+ +DONE' "logs/$target.log" || tail -n 3 "logs/$target.log"
done
