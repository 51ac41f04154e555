#!/usr/bin/env bash
# Fuzzes `protocol::open_messages` (and decode, verify_signed) for a while.
# Not part of CI: it needs the nightly toolchain and cargo-fuzz (installed if missing).
#   bench/fuzz-open.sh [seconds]      (default 600)
# A crash leaves its input in fuzz/artifacts/open/ and makes this script fail.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-600}"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
mkdir -p fuzz/corpus/open
# Seeds: empty, one per mode byte.
printf '\xff' > fuzz/corpus/open/seed-near-valid
printf '\xfe' > fuzz/corpus/open/seed-signed
printf '\xfd\x01\x80' > fuzz/corpus/open/seed-decode
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/fuzz/target}"
cargo +nightly fuzz run --fuzz-dir fuzz open fuzz/corpus/open -- \
    -max_total_time="$SECS" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1
echo "fuzz-open: no crash in ${SECS}s"
