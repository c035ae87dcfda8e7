#!/usr/bin/env bash
# Runs every fuzz target for FUZZ_SECONDS (default 60) each; exits non-zero on the
# first crash, leaving the input under fuzz/artifacts/<target>/. Installs cargo-fuzz
# when missing. libFuzzer needs nightly's sanitizer flags: the nightly toolchain when
# rustup has one, else the stable one with RUSTC_BOOTSTRAP.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
toolchain=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi
# The fuzz crate pins what the workspace pins.
[ -f fuzz/Cargo.lock ] || cp Cargo.lock fuzz/Cargo.lock

for target in $(cargo "${toolchain[@]}" fuzz list); do
  echo "fuzz: $target for ${seconds}s"
  cargo "${toolchain[@]}" fuzz run "$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1
done
echo "fuzz: every target ran ${seconds}s without a crash"
