#!/usr/bin/env bash
# Builds the libFuzzer targets (every parser) (CMake preset `fuzz`: clang++, ASan+UBSan) and runs each
# for N seconds (default 20). Inputs start from the committed seeds in fuzz/corpus/<target>/
# (the golden bytes of tests/cip); new inputs go to build/fuzz/run/corpus/<target>/, so the
# committed corpus is never modified. A crash leaves its input in build/fuzz/run/crashes/.
#
#   scripts/fuzz.sh          # 20 s per target
#   scripts/fuzz.sh 300      # 5 min per target
set -euo pipefail

seconds="${1:-20}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

run="$root/build/fuzz/run"
failed=()
# Every target has a seed folder under fuzz/corpus/, named after it.
for target in $(cd fuzz/corpus && ls -d fuzz_* | sort); do
  mkdir -p "$run/corpus/$target" "$run/crashes/$target"
  echo "== $target: ${seconds}s"
  if "$root/build/fuzz/fuzz/$target" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 \
       -artifact_prefix="$run/crashes/$target/" "$run/corpus/$target" "$root/fuzz/corpus/$target" \
       >"$run/$target.log" 2>&1; then
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE)" "$run/$target.log" || true
  else
    failed+=("$target")
    grep -E "(ERROR|SUMMARY|property failed|Test unit written)" "$run/$target.log" || tail -20 "$run/$target.log"
  fi
done

if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]} (logs in $run)" >&2
  exit 1
fi
echo "all fuzz targets ran ${seconds}s without a finding (logs in $run)"
