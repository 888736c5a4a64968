#!/usr/bin/env bash
# The scanner's receive path on the running gateway: N simulated meters (pm500-sim, on
# 127.0.24.1 ..) x 3 assemblies at RPI R ms, scanned listen-only over multicast on loopback, file
# sink. After every meter is running and a warm-up, one window of S seconds measures (no tracer):
#   datagrams/s, datagrams per receive call (the gateway's own counters, when it has them),
#   CPU per datagram of the scanner thread and of the whole gateway (/proc/PID/task/*/stat),
#   kernel drops (/proc/net/udp of the gateway's Class 1 port)
# then a second window counts system calls per datagram and recvmmsg calls (perf stat on the
# syscall tracepoints; `strace -c -f -p PID` with TRACER=strace or without perf).
#
#   bench/receive/run.sh [BUILD_DIR] [METERS] [RPI_MS] [SECONDS] [EXTRA_SCANNER_TOML]
#   bench/receive/run.sh build/release 200 20 10
#   bench/receive/run.sh build/release 200 20 10 'receive_hold_us = 0'    # no batching
#
# Environment: SIM (another pm500-sim), WARMUP (3 s).
# Needs python3, curl, perf (linux-perf) or strace. At most 253 meters (one /24 of loopback addresses).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/common.sh
build=${1:-build/release}
meters=${2:-200}
rpi=${3:-20}
seconds=${4:-10}
extra=${5:-}
warmup=${WARMUP:-3}
bench_binaries "$build"
sim=${SIM:-$sim}  # another simulator build, so two gateways are measured against the same load
[ "$meters" -le 253 ] || { echo "at most 253 meters" >&2; exit 2; }

work=$(mktemp -d)
udp_port=22241
status="127.0.24.254:18241"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$sim" --address 127.0.24.1 --meters "$meters" --log-level warn >"$work/sim.out" 2>"$work/sim.err" &
pids+=($!)
for _ in $(seq 100); do grep -q "pm500-sim:" "$work/sim.out" 2>/dev/null && break; sleep 0.1; done

cfg="$work/gw.toml"
cat >"$cfg" <<TOML
[gateway]
site = "bench-receive"
state_dir = "$work/state"
[logging]
level = "warn"
[scanner]
local_address = "0.0.0.0"
udp_port = $udp_port
$extra
[status]
listen = "$status"
[sinks.file]
path = "samples.lp"
format = "line-protocol"
TOML
bench_devices "$meters" 127.0.24.1 "$rpi" >>"$cfg"
"$gw" run -c "$cfg" 2>"$work/gw.err" &
gwpid=$!
pids+=($gwpid)

metric() {  # sum of a metric's samples
  curl -s "http://$status/metrics" | awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $2 } END { printf "%.9g\n", s }'
}
running() { curl -s "http://$status/api/status" | python3 -c 'import sys, json; d = json.load(sys.stdin)["devices"]; print(sum(1 for x in d if x["state"] == "running"))' 2>/dev/null || echo 0; }
for _ in $(seq 300); do [ "$(running)" = "$meters" ] && break; sleep 0.2; done
echo "running: $(running) of $meters meters"
sleep "$warmup"

# The scanner thread: the busiest thread of the gateway.
scanner_tid() {
  for t in /proc/$gwpid/task/*; do echo "$(bench_cpu_ticks "$t/stat" | awk '{print $1 + $2}') ${t##*/}"; done | sort -n | tail -1 | cut -d' ' -f2
}
tid=$(scanner_tid)
drops() { awk -v p=$(printf ':%04X' "$udp_port") '$2 ~ p"$" { print $NF }' /proc/net/udp | head -1; }
hz=$(getconf CLK_TCK)
p0=$(metric pm500_device_packets_total); d0=$(metric pm500_scanner_datagrams_received_total)
c0=$(metric pm500_scanner_receive_calls_total); k0=$(drops); w0=$(metric pm500_scanner_receive_delay_seconds_total)
read -r su0 ss0 < <(bench_cpu_ticks /proc/$gwpid/task/$tid/stat)
read -r gu0 gs0 < <(bench_cpu_ticks /proc/$gwpid/stat)
t0=$(date +%s.%N)
dmax=0  # the gateway's longest receive delay of each second, sampled every second
for _ in $(seq "$seconds"); do
  sleep 1
  dmax=$(python3 -c "print(max($dmax, $(metric pm500_scanner_receive_delay_max_seconds)))")
done
p1=$(metric pm500_device_packets_total); d1=$(metric pm500_scanner_datagrams_received_total)
c1=$(metric pm500_scanner_receive_calls_total); k1=$(drops); w1=$(metric pm500_scanner_receive_delay_seconds_total)
read -r su1 ss1 < <(bench_cpu_ticks /proc/$gwpid/task/$tid/stat)
read -r gu1 gs1 < <(bench_cpu_ticks /proc/$gwpid/stat)
t1=$(date +%s.%N)
python3 - "$(python3 -c "print($t1 - $t0)")" "$hz" "$p0" "$p1" "$d0" "$d1" "$c0" "$c1" "$k0" "$k1" "$su0" "$ss0" "$su1" "$ss1" "$gu0" "$gs0" "$gu1" "$gs1" "$w0" "$w1" "$dmax" <<'PY'
import sys
a = [float(x) for x in sys.argv[1:]]
secs, hz, p0, p1, d0, d1, c0, c1, k0, k1, su0, ss0, su1, ss1, gu0, gs0, gu1, gs1, w0, w1, dmax = a
n = p1 - p0
us = lambda t: t / hz * 1e6 / n if n else 0
print(f"window {secs:.1f} s: {n / secs:.0f} datagrams/s delivered, kernel drops {k1 - k0:.0f}")
if c1 > c0:
    print(f"  datagrams per receive call {(d1 - d0) / (c1 - c0):.1f} (gateway counters)")
    print(f"  kernel receive -> read: mean {(w1 - w0) / (d1 - d0) * 1e3:.3f} ms, max {dmax * 1e3:.3f} ms")
print(f"  scanner thread CPU per datagram: user {us(su1 - su0):.2f} us, system {us(ss1 - ss0):.2f} us")
print(f"  gateway CPU per datagram:        user {us(gu1 - gu0):.2f} us, system {us(gs1 - gs0):.2f} us")
PY

# System calls: perf's tracepoints count every call without stopping the gateway; strace -c (the
# fallback, or TRACER=strace) stops it at each call, which slows it and so enlarges the batches.
tracer=${TRACER:-perf}
perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1 || tracer=strace
p0=$(metric pm500_device_packets_total)
if [ "$tracer" = perf ]; then
  perf stat -x, -e raw_syscalls:sys_enter -e syscalls:sys_enter_recvmmsg -e syscalls:sys_enter_epoll_wait \
    -e syscalls:sys_enter_sendto -e syscalls:sys_enter_clock_nanosleep -p "$gwpid" -o "$work/sys.txt" -- sleep "$seconds"
else
  timeout -s INT "$seconds" strace -c -f -p "$gwpid" -o "$work/sys.txt" 2>/dev/null || true
fi
p1=$(metric pm500_device_packets_total)
python3 - "$work/sys.txt" "$((p1 - p0))" "$tracer" <<'PY'
import sys
path, n, tracer = sys.argv[1], int(sys.argv[2]), sys.argv[3]
total, by = 0, {}
for line in open(path):
    if tracer == "perf":
        f = line.strip().split(",")
        if len(f) < 3 or not f[0].strip().isdigit():
            continue
        name = f[2].split(":")[-1].replace("sys_enter_", "")
        if name == "sys_enter":
            total = int(f[0])
        else:
            by[name] = int(f[0])
    else:
        f = line.split()
        if len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            by[f[-1]] = int(f[3]); total += int(f[3])
if not n:
    sys.exit("no datagrams in the window")
top = ", ".join(f"{k} {v}" for k, v in sorted(by.items(), key=lambda kv: -kv[1])[:5])
print(f"{tracer} window: {n} datagrams, {total} system calls = {total / n:.3f} per datagram ({top})")
if by.get("recvmmsg"):
    print(f"  datagrams per recvmmsg {n / by['recvmmsg']:.1f}")
PY
