#!/usr/bin/env bash
# Runs every fuzz target for $FUZZ_SECONDS (default 30) from the committed seeds
# (fuzz/seeds/<target>/), with AddressSanitizer, as many at once as the machine
# has cores. cargo-fuzz is installed from crates.io if missing; its nightly-only
# compiler flags are allowed on the stable toolchain with RUSTC_BOOTSTRAP=1 (the
# only toolchain these machines have). A crash, a leak or a timeout fails the
# run; the input is kept in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${FUZZ_SECONDS:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked --quiet cargo-fuzz
fi
export RUSTC_BOOTSTRAP=1
targets=(csv idx idx_gzip safetensors persist_load export)
# Built once, all targets, before any runs (concurrent builds would wait on
# each other's lock).
cargo fuzz build --release >/dev/null
mkdir -p logs
run() {
  local target="$1" log="logs/$1.log"
  mkdir -p "corpus/$target"
  if ! cargo fuzz run --release "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    echo "fuzz target $target failed:" >&2
    tail -n 60 "$log" >&2
    return 1
  fi
}
width="$(nproc)"
failed=0
for ((start = 0; start < ${#targets[@]}; start += width)); do
  pids=()
  for target in "${targets[@]:start:width}"; do
    echo "fuzzing $target for ${seconds} s"
    run "$target" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do
    wait "$pid" || failed=1
  done
done
for target in "${targets[@]}"; do
  echo "== $target"
  grep -E '^(INFO: seed corpus|stat::number_of_executed_units|stat::peak_rss_mb)' "logs/$target.log"
done
exit "$failed"
