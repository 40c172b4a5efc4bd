#!/usr/bin/env bash
# Runs every fuzz target for $FUZZ_SECONDS (default 10) from the committed seeds
# (fuzz/seeds/<target>/), with AddressSanitizer. cargo-fuzz is installed from
# crates.io if missing; its nightly-only compiler flags are allowed on the stable
# toolchain with RUSTC_BOOTSTRAP=1 (the only toolchain these machines have).
# A crash, a leak or a timeout fails the run; the input is kept in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-10}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked --quiet cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
mkdir -p logs
for target in csv idx idx_gzip safetensors persist_load export; do
  mkdir -p "corpus/$target"
  echo "fuzzing $target for ${seconds} s"
  log="logs/$target.log"
  if ! cargo fuzz run --release "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    exit 1
  fi
  grep -E '^(INFO: seed corpus|stat::number_of_executed_units|stat::peak_rss_mb)' "$log"
done
