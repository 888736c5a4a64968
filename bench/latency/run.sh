#!/usr/bin/env bash
# Datagram -> broker latency with default settings: N simulated meters (pm500-sim, loopback),
# 3 assemblies at RPI R ms, the gateway's MQTT sink (QoS 1) into a mosquitto on loopback, and a
# subscriber that stamps each message on receipt (mosquitto_sub %U) and compares it with the
# sample's source time (time_ms: when the datagram reached the gateway). Prints p50/p99/max.
#
#   bench/latency/run.sh [BUILD_DIR] [METERS] [RPI_MS] [SECONDS]
#
# BROKER_NODELAY=1 (default) runs mosquitto with set_tcp_nodelay true; BROKER_NODELAY=0 keeps
# mosquitto's default (Nagle on), where PUBACKs queued behind one unacknowledged segment wait for
# the gateway's delayed ACK (up to 40 ms on Linux): see "Latency" in sinks/mqtt/README.md.
# MQTT_SETTINGS adds lines to the gateway's [sinks.mqtt] (e.g. 'max_inflight = 100'). SUB_QOS=1
# subscribes with QoS 1: its PUBACKs keep the broker's Nagle from holding messages to it.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/common.sh
build=${1:-build/release}
meters=${2:-34}
rpi=${3:-100}
seconds=${4:-20}
bench_binaries "$build"
command -v mosquitto_sub >/dev/null || { echo "needs mosquitto-clients" >&2; exit 2; }
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((18000 + RANDOM % 1000))
nodelay=()
[ "${BROKER_NODELAY:-1}" = 1 ] && nodelay=('set_tcp_nodelay true')
bench_mosquitto "$work/broker" 127.0.0.1 "$port" "${nodelay[@]}"
first=127.0.9.141
"$sim" --address "$first" --meters "$meters" --log-level warn >"$work/sim.log" 2>&1 &
sleep 1
{
  printf '[gateway]\nsite = "bench"\nstate_dir = "%s/state"\n[logging]\nlevel = "warn"\n[status]\nenabled = false\n' "$work"
  printf '[scanner]\nudp_port = 24%03d\n' $((RANDOM % 900 + 100))
  printf '[sinks.mqtt]\nurl = "mqtt://127.0.0.1:%s"\nclient_id = "bench"\nqos = 1\n%b\n' "$port" "${MQTT_SETTINGS:-}"
  bench_devices "$meters" "$first" "$rpi"
} >"$work/gateway.toml"
"$gw" run -c "$work/gateway.toml" >"$work/gateway.log" 2>&1 &
sleep 4  # connections up
timeout "$seconds" mosquitto_sub -h 127.0.0.1 -p "$port" -q "${SUB_QOS:-0}" -t 'pm500/bench/#' -F '%U %p' >"$work/received" || true
python3 - "$work/received" "$seconds" <<'PY'
import sys, re, statistics
lat = []
for line in open(sys.argv[1]):
    stamp, _, payload = line.partition(' ')
    m = re.search(r'"time_ms":(\d+)', payload)
    if not m:
        continue
    lat.append(float(stamp) * 1000.0 - int(m.group(1)))
lat.sort()
if not lat:
    sys.exit("no messages received")
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"messages {len(lat)} ({len(lat) / float(sys.argv[2]):.0f}/s)  latency ms: p50 {pick(0.5):.1f}  p99 {pick(0.99):.1f}  max {lat[-1]:.1f}")
PY
