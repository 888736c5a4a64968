#!/usr/bin/env bash
# CPU and system calls per sample, thread by thread, on the running gateway: N simulated meters
# (pm500-sim, loopback, 3 assemblies at RPI 100 ms) into the sinks chosen by SINKS (file,
# influxdb, mqtt, or all: a mosquitto and an influxd 1.x on loopback). After an 8 s warm-up, a
# window of SECONDS: per thread user and system CPU from /proc/PID/task/TID/stat divided by the
# samples the meters produced in it (N x 3 x 10 per second), and system calls per sample from
# `perf stat -e raw_syscalls:sys_enter --per-thread`. The gateway names its threads
# (pm500-scanner, sink-NAME); the MQTT client library's are MQTTAsync_send and MQTTAsync_rcv.
#
#   bench/threads/run.sh [BUILD_DIR] [METERS] [SECONDS]
#
# SINKS=mqtt QOS=0 runs the MQTT sink alone at QoS 0. GW=path runs another gateway executable
# with the same simulator (a before/after in one session).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/common.sh
build=${1:-build/release}
meters=${2:-300}
secs=${3:-10}
bench_binaries "$build"
gw=${GW:-$gw}
command -v perf >/dev/null || { echo "needs perf (linux-perf)" >&2; exit 2; }
sinks=${SINKS:-all}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
dest=127.0.30.1
mq_port=$((18000 + RANDOM % 1000))
influx_port=$((19000 + RANDOM % 1000))
case $sinks in *mqtt* | all) bench_mosquitto "$work/mq" "$dest" "$mq_port" 'set_tcp_nodelay true' ;; esac
case $sinks in *influx* | all) bench_influxd "$work/influx" "$dest" "$influx_port" pm500 ;; esac
"$sim" --address 127.0.31.1 --meters "$meters" --log-level warn >"$work/sim.log" 2>&1 &
sleep 1
{
  printf '[gateway]\nsite = "bench"\nstate_dir = "%s/state"\n[logging]\nlevel = "warn"\n[status]\nenabled = false\n' "$work"
  printf '[scanner]\nudp_port = 24%03d\n' $((RANDOM % 900 + 100))
  case $sinks in *file* | all) printf '[sinks.file]\npath = "%s/out.lp"\n' "$work" ;; esac
  case $sinks in *mqtt* | all) printf '[sinks.mqtt]\nurl = "mqtt://%s:%s"\nclient_id = "bench"\nqos = %s\n' "$dest" "$mq_port" "${QOS:-1}" ;; esac
  case $sinks in *influx* | all) printf '[sinks.influxdb]\nurl = "http://%s:%s"\ndatabase = "pm500"\n' "$dest" "$influx_port" ;; esac
  bench_devices "$meters" 127.0.31.1 100
} >"$work/gateway.toml"
"$gw" run -c "$work/gateway.toml" >"$work/gateway.log" 2>&1 &
gpid=$!
sleep 8
declare -A t0
for t in /proc/$gpid/task/*; do t0[$t]=$(bench_cpu_ticks "$t/stat"); done
perf stat -e raw_syscalls:sys_enter --per-thread -p "$gpid" -- sleep "$secs" 2>"$work/perf.txt" >/dev/null || true
n=$((meters * 30 * secs))
hz=$(getconf CLK_TCK)
echo "sinks $sinks, $meters meters, $((n / secs)) samples/s, ${secs} s window, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-16s %12s %12s %16s\n' thread "user us" "system us" "system calls"
total_u=0 total_s=0 total_c=0
for t in /proc/$gpid/task/*; do
  read -r u s <<<"${t0[$t]:-0 0}"
  read -r u2 s2 <<<"$(bench_cpu_ticks "$t/stat")"
  name=$(cat "$t/comm")
  calls=$(awk -v id="$name-$(basename "$t")" '$1 == id { gsub(",", "", $2); print $2 }' "$work/perf.txt")
  calls=${calls:-0}
  [ $((u2 - u + s2 - s + calls)) -gt 100 ] || continue
  total_u=$((total_u + u2 - u)) total_s=$((total_s + s2 - s)) total_c=$((total_c + calls))
  awk -v name="$name" -v u=$((u2 - u)) -v s=$((s2 - s)) -v c="$calls" -v n="$n" -v hz="$hz" \
    'BEGIN { printf "%-16s %12.2f %12.2f %16.3f\n", name, u * 1e6 / hz / n, s * 1e6 / hz / n, c / n }'
done
awk -v u=$total_u -v s=$total_s -v c=$total_c -v n="$n" -v hz="$hz" \
  'BEGIN { printf "%-16s %12.2f %12.2f %16.3f   (per sample)\n", "gateway", u * 1e6 / hz / n, s * 1e6 / hz / n, c / n }'
