#!/usr/bin/env bash
# Memory of the running gateway: N simulated meters (pm500-sim on loopback, 3 assemblies, RPI R
# ms) scanned into the file sink, after a warm-up; prints RSS, PSS and anonymous memory (from
# /proc/PID/smaps_rollup) with the ring sized from the devices (ring_capacity = 0, the default)
# and with the former fixed ring of 65,536 slots, in the same run.
#
#   bench/memory/run.sh [BUILD_DIR] [METERS] [RPI_MS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/common.sh
build=${1:-build/release}
meters=${2:-10}
rpi=${3:-1000}
bench_binaries "$build"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
first=127.0.9.101
"$sim" --address "$first" --meters "$meters" --log-level warn >"$work/sim.log" 2>&1 &
sleep 1
printf '%-10s %10s %10s %10s %10s\n' ring slots "RSS MB" "PSS MB" "anon MB"
for ring in 0 65536; do
  cfg="$work/$ring.toml"
  {
    printf '[gateway]\nsite = "bench"\nstate_dir = "%s/state-%s"\n[logging]\nlevel = "warn"\n' "$work" "$ring"
    printf '[status]\nenabled = false\n[scanner]\nudp_port = 23%03d\n' $((RANDOM % 900 + 100))
    printf '[pipeline]\nring_capacity = %s\n[sinks.file]\npath = "samples.lp"\n' "$ring"
    bench_devices "$meters" "$first" "$rpi"
  } >"$cfg"
  "$gw" run -c "$cfg" >"$work/$ring.log" 2>&1 &
  pid=$!
  sleep 8
  slots=$( [ "$ring" = 0 ] && echo "auto" || echo "fixed")
  awk -v name="$slots" -v slots="$ring" '
    /^Rss:/ {rss=$2} /^Pss:/ {pss=$2} /^Anonymous:/ {anon=$2}
    END {printf "%-10s %10s %10.1f %10.1f %10.1f\n", name, slots, rss/1024, pss/1024, anon/1024}' "/proc/$pid/smaps_rollup"
  kill -TERM "$pid"; wait "$pid" || true
done
