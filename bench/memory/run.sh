#!/usr/bin/env bash
# Memory of the running gateway: N simulated meters (pm500-sim on loopback, 3 assemblies, RPI R
# ms) scanned into each sink alone and into all four at once, against real destinations on
# loopback (127.0.25.1): mosquitto for the MQTT sink, a second mosquitto with mutual TLS
# (certificates made here with openssl) standing in for AWS IoT Core, influxd 1.x for the
# InfluxDB sink. Then a restart with a spool backlog of B MiB (written by spool_fill) for the
# InfluxDB sink, first with the destination down, then with it up (replay running).
# Prints, per case, RSS, PSS and anonymous memory (/proc/PID/smaps_rollup; the largest RSS of
# several readings after a warm-up), the thread count and the 1-minute load average, then where
# the RSS of the all-sinks case goes (/proc/PID/smaps by mapping, and by shared library).
#
#   bench/memory/run.sh [BUILD_DIR] [METERS] [RPI_MS] [BACKLOG_MB]
#   bench/memory/run.sh build/release 10 1000 1024
#
# BACKLOG_MB 0 skips the restart. With less than 5 GB free on the temporary folder's file system
# a 1 GiB backlog is cut to 512 MiB (said). RING_CAPACITY=65536 sets [pipeline] ring_capacity
# (default 0: sized from the devices). BENCH_DEST and BENCH_METERS_FROM move the destinations
# (127.0.25.1) and the meters (from 127.0.25.101) to other loopback addresses. Needs python3, curl, openssl, mosquitto, influxd 1.x;
# spool_fill is built with the benchmarks (target spool_fill).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/common.sh
build=${1:-build/release}
meters=${2:-10}
rpi=${3:-1000}
backlog_mb=${4:-1024}
ring=${RING_CAPACITY:-0}
bench_binaries "$build"
fill="$build/bench/spool_fill"
if [ "$backlog_mb" != 0 ] && [ ! -x "$fill" ]; then
  echo "build $build's spool_fill first (cmake --build $build --target spool_fill)" >&2
  exit 2
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT

dest=${BENCH_DEST:-127.0.25.1}             # every destination listens here
mqtt_port=1883 aws_port=8883 influx_port=8086 down_port=8096  # nothing listens on down_port
first=${BENCH_METERS_FROM:-127.0.25.101}  # the simulated meters
bench_mosquitto "$work/mqtt" "$dest" "$mqtt_port"
bench_pki "$work/pki" "$dest" bench-thing
bench_mosquitto "$work/aws" "$dest" "$aws_port" \
  "cafile $work/pki/ca.crt" "certfile $work/pki/server.crt" "keyfile $work/pki/server.key" \
  'require_certificate true' 'use_identity_as_username true'
bench_influxd "$work/influx" "$dest" "$influx_port" pm500
"$sim" --address "$first" --meters "$meters" --log-level warn >"$work/sim.log" 2>&1 &
sleep 1

sink_file() { printf '[sinks.file]\npath = "samples.lp"\n'; }
sink_influxdb() { printf '[sinks.influxdb]\nurl = "http://%s:%s"\ndatabase = "pm500"\n' "$dest" "${1:-$influx_port}"; }
sink_mqtt() { printf '[sinks.mqtt]\nurl = "mqtt://%s:%s"\nclient_id = "bench"\nqos = 1\n' "$dest" "$mqtt_port"; }
sink_aws_iot() {
  printf '[sinks.aws_iot]\nendpoint = "%s"\nport = %s\nthing_name = "bench-thing"\n' "$dest" "$aws_port"
  printf 'cert_file = "%s/pki/client.crt"\nkey_file = "%s/pki/client.key"\nca_file = "%s/pki/ca.crt"\n' "$work" "$work" "$work"
}

# gateway CONFIG STATE_DIR SINK_LINES: writes the configuration, starts the gateway, sets $pid
# and $log.
gateway() {
  {
    printf '[gateway]\nsite = "bench"\nstate_dir = "%s"\n[logging]\nlevel = "warn"\n' "$2"
    printf '[status]\nenabled = false\n[scanner]\nudp_port = 25%03d\n' $((RANDOM % 900 + 100))
    printf '[pipeline]\nring_capacity = %s\n' "$ring"
    printf '%s\n' "$3"
    bench_devices "$meters" "$first" "$rpi"
  } >"$1"
  log=${1%.toml}.log
  "$gw" run -c "$1" >"$log" 2>&1 &
  pid=$!
}

# measure NAME: WARMUP s after the start, READINGS readings 2 s apart; prints the one with the
# largest RSS (MB), with PSS, anonymous, threads and the load average at that moment.
measure() {
  local name=$1 best="" i line
  sleep "${WARMUP:-8}"
  for i in $(seq "${READINGS:-3}"); do
    kill -0 "$pid" 2>/dev/null || { echo "gateway exited:" >&2; tail -5 "$log" >&2; return 1; }
    line=$(awk -v threads="$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")" -v load="$(cut -d' ' -f1 /proc/loadavg)" '
      /^Rss:/ {rss=$2} /^Pss:/ {pss=$2} /^Anonymous:/ {anon=$2}
      END {printf "%.1f %.1f %.1f %s %s", rss/1024, pss/1024, anon/1024, threads, load}' "/proc/$pid/smaps_rollup")
    if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN {exit !(a > b)}'; then best=$line; fi
    [ "$i" = "${READINGS:-3}" ] || sleep 2
  done
  printf '%-34s %8s %8s %8s %8s %6s\n' "$name" $best
}

# Where the RSS goes: /proc/PID/smaps summed by kind of mapping (MB); thread stacks are the
# 8 MiB anonymous mappings (glibc's default stack size), the other anonymous mappings are malloc's
# per-thread arenas and large blocks (the ring's slots among them).
breakdown() {
  python3 - "/proc/$1/smaps" <<'PY'
import sys, re, collections
rss, anon, count = collections.Counter(), collections.Counter(), collections.Counter()
lib_rss = collections.Counter()
kind = lib = None
for line in open(sys.argv[1]):
    m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$', line)
    if m:
        lo, hi, perms, path = m.groups()
        lib = path.rsplit('/', 1)[-1] if '.so' in path else None
        what = {'r-x': 'code', 'r--': 'read-only data', 'rw-': 'writable data'}.get(perms[:3], 'no access')
        if path.endswith('pm500-gateway'): kind = 'executable: ' + what
        elif '.so' in path: kind = 'shared libraries: ' + what
        elif path == '[heap]': kind = 'heap (brk): main arena'
        elif path.startswith('['): kind = path
        elif path: kind = 'other files'
        elif int(hi, 16) - int(lo, 16) == 8 << 20: kind = 'anonymous: thread stacks'
        else: kind = 'anonymous: malloc arenas, large blocks, ring'
        count[kind] += 1
        continue
    k, _, v = line.partition(':')
    if k == 'Rss':
        rss[kind] += int(v.split()[0])
        if lib: lib_rss[lib] += int(v.split()[0])
    elif k == 'Anonymous': anon[kind] += int(v.split()[0])
print(f"{'mapping':<46} {'RSS MB':>7} {'anon MB':>8} {'maps':>5}")
for k, v in rss.most_common():
    if v: print(f"{k:<46} {v / 1024:7.1f} {anon[k] / 1024:8.1f} {count[k]:5}")
print(f"shared libraries by RSS ({len(lib_rss)} mapped, {sum(lib_rss.values()) / 1024:.1f} MB):")
for k, v in lib_rss.most_common():
    if v >= 100: print(f"  {k:<44} {v / 1024:7.1f}")
PY
}

printf '%-34s %8s %8s %8s %8s %6s\n' case "RSS MB" "PSS MB" "anon MB" threads load1
for sinks in file influxdb mqtt aws_iot all; do
  if [ "$sinks" = all ]; then lines=$(sink_file; sink_influxdb; sink_mqtt; sink_aws_iot); else lines=$("sink_$sinks"); fi
  gateway "$work/$sinks.toml" "$work/state-$sinks" "$lines"
  measure "$sinks"
  [ "$sinks" = all ] && { breakdown "$pid" >"$work/breakdown.txt"; ps -L -o comm= -p "$pid" | sort | uniq -c | sort -rn | tr -s ' ' | paste -sd, >"$work/threads.txt"; }
  kill -TERM "$pid"; wait "$pid" || true
  [ -n "${KEEP:-}" ] || rm -rf "$work/state-$sinks"
done
# The same configuration as "influxdb", the destination down: what the backlog adds below.
gateway "$work/down.toml" "$work/state-down" "$(sink_influxdb "$down_port")"
measure "influxdb, destination down"
kill -TERM "$pid"; wait "$pid" || true
rm -rf "$work/state-down"

if [ "$backlog_mb" != 0 ]; then
  free_gb=$(df -Pk "$work" | awk 'NR == 2 {print int($4 / 1048576)}')
  if [ "$backlog_mb" -ge 1024 ] && [ "$free_gb" -lt 5 ]; then
    echo "only ${free_gb} GB free under $work: backlog cut to 512 MiB"
    backlog_mb=512
  fi
  state="$work/state-backlog"
  "$fill" "$state/sinks/influxdb/spool" "$backlog_mb" "$meters" | tee "$work/fill.txt"
  acked() { od -An -tu8 -j8 -N8 "$state/sinks/influxdb/spool/acked" 2>/dev/null | tr -d ' ' || echo 0; }
  spool_cfg=$(sink_influxdb "$down_port"; printf 'spool_max_mb = %s\n' $((backlog_mb + 512)))
  gateway "$work/backlog-down.toml" "$state" "$spool_cfg"
  measure "restart, ${backlog_mb} MiB backlog, dest. down"
  kill -TERM "$pid"; wait "$pid" || true
  before=$(acked); before=${before:-0}
  spool_cfg=$(sink_influxdb; printf 'spool_max_mb = %s\n' $((backlog_mb + 512)))
  gateway "$work/backlog-up.toml" "$state" "$spool_cfg"
  READINGS=${REPLAY_READINGS:-6} measure "restart, ${backlog_mb} MiB backlog, replaying"
  kill -TERM "$pid"; wait "$pid" || true
  secs=$((${WARMUP:-8} + 2 * ${REPLAY_READINGS:-6} - 2))
  after=$(acked)
  echo "replay: $((after - before)) samples acknowledged by influxd in about ${secs} s ($(((after - before) / secs))/s)"
  rm -rf "$state"
fi
echo
echo "all four sinks, RSS by mapping:"
cat "$work/breakdown.txt"
echo "threads: $(cat "$work/threads.txt")"
