#!/usr/bin/env bash
# Cost of [pipeline] durability = "journal" against "memory", on the running gateway:
# N simulated meters (pm500-sim, loopback) x 3 assemblies at RPI R ms, the file sink, a fixed
# window; prints the gateway's CPU (user + system, from /proc), the bytes it wrote to disk
# (/proc/PID/io write_bytes) and the journal's write calls, per mode, and the bytes per day.
#
#   bench/durability/run.sh [BUILD_DIR] [METERS] [RPI_MS] [SECONDS]
#   bench/durability/run.sh build/release 100 100 30
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/common.sh
build=${1:-build/release}
meters=${2:-100}
rpi=${3:-100}
seconds=${4:-30}
bench_binaries "$build"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

first=127.0.8.1
"$sim" --address "$first" --meters "$meters" --log-level warn >"$work/sim.log" 2>&1 &
sleep 1
hz=$(getconf CLK_TCK)
printf '%-8s %10s %12s %14s %14s %12s\n' mode samples/s "CPU us/smp" "disk B/sample" "disk GB/day" "writes/s"
for mode in memory journal; do
  state="$work/state-$mode"
  cfg="$work/$mode.toml"
  {
    printf '[gateway]\nsite = "bench"\nstate_dir = "%s"\n[logging]\nlevel = "warn"\n[status]\nenabled = false\n' "$state"
    printf '[scanner]\nudp_port = 22%03d\n[pipeline]\ndurability = "%s"\n' $((RANDOM % 900 + 100)) "$mode"
    printf '[sinks.file]\npath = "samples.lp"\nmax_mb = 4096\nmax_files = 1\n'
    bench_devices "$meters" "$first" "$rpi"
  } >"$cfg"
  "$gw" run -c "$cfg" >"$work/$mode.log" 2>&1 &
  pid=$!
  sleep 5  # connections up
  read -r u1 s1 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  w1=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
  c1=$(awk '/^syscw/ {print $2}' "/proc/$pid/io")
  n1=$(cat "$state/sinks/file/samples.lp" 2>/dev/null | wc -l)
  sleep "$seconds"
  read -r u2 s2 < <(awk '{print $14, $15}' "/proc/$pid/stat")
  w2=$(awk '/^write_bytes/ {print $2}' "/proc/$pid/io")
  c2=$(awk '/^syscw/ {print $2}' "/proc/$pid/io")
  n2=$(cat "$state/sinks/file/samples.lp" | wc -l)
  kill -TERM "$pid"; wait "$pid" || true
  python3 - "$mode" "$((n2 - n1))" "$seconds" "$((u2 + s2 - u1 - s1))" "$hz" "$((w2 - w1))" "$((c2 - c1))" <<'PY'
import sys
mode, n, secs, ticks, hz, wb, calls = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
rate = n / secs
print(f"{mode:<8} {rate:10.0f} {ticks / hz / max(n, 1) * 1e6:12.2f} {wb / max(n, 1):14.0f} {wb / secs * 86400 / 1e9:14.2f} {calls / secs:12.0f}")
PY
done
