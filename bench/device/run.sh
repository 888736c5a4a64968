#!/usr/bin/env bash
# The scanner thread's device path per sample (bench/device/hot_path_bench.cpp): user
# instructions counted by callgrind (valgrind), then time per sample from Google Benchmark.
#
#   bench/device/run.sh BUILD_DIR      # BUILD_DIR holds bench/device_bench (any build type)
set -euo pipefail

build=${1:?usage: bench/device/run.sh BUILD_DIR}
bin=$build/bench/device_bench
[[ -x $bin ]] || { echo "no $bin: cmake --build $build --target device_bench" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf '%-28s %10s %14s %12s\n' benchmark samples instructions per_sample
for b in check_healthy check_finding_active datagram_healthy datagram_finding_active; do
  case $b in
    check_*) fn='pm500_bench_check*' ;;
    *) fn='pm500_bench_datagram*' ;;
  esac
  # Only the measured function is counted: callgrind collects inside --toggle-collect.
  valgrind --tool=callgrind --callgrind-out-file="$tmp/$b.out" --toggle-collect="$fn" \
    "$bin" --benchmark_filter="^BM_$b/" --benchmark_format=csv >"$tmp/$b.csv" 2>"$tmp/$b.err" ||
    { cat "$tmp/$b.err" >&2; exit 1; }
  samples=$(awk -F, 'NR == 2 { print $2 }' "$tmp/$b.csv")
  ir=$(awk '/^totals:/ { print $2 }' "$tmp/$b.out")
  printf '%-28s %10d %14d %12d\n' "$b" "$samples" "$ir" $((ir / samples))
done
echo
"$bin" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
