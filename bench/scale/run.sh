#!/usr/bin/env bash
# Scale: N simulated meters (pm500-sim) x 3 assemblies at RPI R ms, scanned by one gateway
# (listen-only, multicast T->O, file sink), the simulator and the gateway each in a network
# namespace of their own joined by a veth pair. After the meters are up and a warm-up, one fixed
# window measures, without any tracer attached:
#   datagrams/s      received by the gateway (sum of pm500_device_packets_total) and sent by the simulator
#   CPU per datagram user and system, of the gateway, its busiest thread (the scanner) and the
#                    simulator, from /proc/PID/stat deltas
#   kernel drops     of the gateway's UDP socket (/proc/net/udp "drops" in its namespace), plus any
#                    drop counter the gateway's /metrics has
#   RSS              of the gateway (VmRSS) at the end of the window
# then a second window counts system calls per datagram (perf stat on raw_syscalls, else strace
# -c), and a shorter run with C meters under callgrind gives the gateway's user instructions per
# datagram (all threads, and the scanner thread).
#
#   bench/scale/run.sh [BUILD_DIR] [METERS] [SECONDS]
#   bench/scale/run.sh build/release 1000 10
#
# MODE=overload: after window 1 and the system calls, the scanner thread is held to half the CPU it
# used (twice the load it can take) for a while, then let go: drops, gateway.overload and the
# recovery of every meter (see the section below; no callgrind run).
#
# Environment: RPI_MS (100), WARMUP (5 s after every meter is up), SYSCALL_SECONDS (5),
# CALLGRIND_METERS (30, 0 = skip), CALLGRIND_SECONDS (10), CALLGRIND_KEEP (a folder to keep the
# callgrind files in, for callgrind_annotate), SIM (another pm500-sim, e.g. an older
# build), TOPOLOGY=veth (default) or loopback (both in one namespace, meters on 127.1.0.0/16, as
# with an older simulator that only accepts loopback addresses), NETNS_PREFIX (pm5s: the names of
# the namespaces and the veth pair, for two runs side by side).
#
# Needs root (network namespaces), iproute2, python3, curl; perf (linux-perf) or strace; valgrind.
# Creates namespaces PREFIX-sim and PREFIX-gw and the veth pair PREFIX-a/PREFIX-b with addresses in
# 10.250.0.0/16 that exist only inside them, and deletes them on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/common.sh
build=${1:-build/release}
meters=${2:-1000}
seconds=${3:-10}
rpi=${RPI_MS:-100}
warmup=${WARMUP:-5}
syscall_seconds=${SYSCALL_SECONDS:-5}
cg_meters=${CALLGRIND_METERS:-30}
cg_seconds=${CALLGRIND_SECONDS:-10}
topology=${TOPOLOGY:-veth}
bench_binaries "$build"
sim=${SIM:-$sim}

need() { command -v "$1" >/dev/null || { echo "needs $1: apt-get install $2" >&2; exit 2; }; }
[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 2; }
need ip iproute2
need python3 python3
need curl curl
tracer=perf
perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1 || tracer=strace
[ "$tracer" = perf ] || need strace "linux-perf (or strace)"
if [ "$cg_meters" -gt 0 ] && ! command -v valgrind >/dev/null; then
  echo "valgrind missing (apt-get install valgrind): no instruction counts" >&2
  cg_meters=0
fi

# The simulator holds up to five descriptors per meter, the gateway two: raise the limit as far
# as the host lets (without CAP_SYS_RESOURCE the hard limit stays), and split the meters over
# several simulator processes when one cannot hold them all.
fds=$((meters * 5 + 1024))
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge "$fds" ] || ulimit -n "$fds" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
per_sim=$meters
[ "$(ulimit -n)" = unlimited ] || per_sim=$(( ($(ulimit -n) - 256) / 5 ))
sims=$(( (meters + per_sim - 1) / per_sim ))

prefix=${NETNS_PREFIX:-pm5s}
ns_sim=$prefix-sim
ns_gw=$prefix-gw
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$ns_sim" 2>/dev/null || true
  ip netns del "$ns_gw" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# (processes that run in the background are started with ip netns exec itself, which execs them,
# so $! is their PID)
in_sim() { ip netns exec "$ns_sim" "$@"; }
in_gw() { ip netns exec "$ns_gw" "$@"; }

# --- network --------------------------------------------------------------------------------
ip netns del "$ns_sim" 2>/dev/null || true
ip netns del "$ns_gw" 2>/dev/null || true
ip netns add "$ns_gw"
ip -n "$ns_gw" link set lo up
gw_udp=2222
if [ "$topology" = loopback ]; then
  ns_sim=$ns_gw
  first=127.1.0.1
  gw_udp=2223  # the meters own 2222 on their addresses in the same namespace
  sim_flags=()
  ip -n "$ns_gw" route add 224.0.0.0/4 dev lo
else
  ip netns add "$ns_sim"
  ip -n "$ns_sim" link set lo up
  ip link add $prefix-a netns "$ns_sim" type veth peer name $prefix-b netns "$ns_gw"
  ip -n "$ns_sim" addr add 10.250.0.1/24 dev $prefix-a
  ip -n "$ns_gw" addr add 10.250.0.2/24 dev $prefix-b
  ip -n "$ns_sim" link set $prefix-a up
  ip -n "$ns_gw" link set $prefix-b up
  # Meters from 10.250.64.1, each address on the simulator's end; the gateway reaches them (and
  # the multicast groups) through one next hop, so neither side keeps a neighbour per meter.
  first=10.250.64.1
  python3 - "$meters" "$first" "$prefix-a" <<'PY' | ip -n "$ns_sim" -batch -
import sys, ipaddress
for i in range(int(sys.argv[1])):
    print(f"addr add {ipaddress.ip_address(sys.argv[2]) + i}/32 dev {sys.argv[3]}")
PY
  ip -n "$ns_gw" route add default via 10.250.0.1
  sim_flags=(--private-netns)
fi

# One host sending to every meter's multicast groups needs a neighbour entry per group (a real
# meter has three). The limit is the host's, shared by all namespaces: below 3 x meters the kernel
# collects and recreates entries as it sends, which the simulator's CPU figures then include.
thresh3=$(cat /proc/sys/net/ipv4/neigh/default/gc_thresh3)
if [ "$thresh3" -lt $((meters * 3 + 256)) ]; then
  echo "note: net.ipv4.neigh.default.gc_thresh3 = $thresh3 < 3 x $meters multicast groups: the simulator" \
    "recreates neighbour entries as it sends (sysctl -w net.ipv4.neigh.default.gc_thresh3=$((meters * 4 + 1024)) to avoid)"
fi

# --- simulator --------------------------------------------------------------------------------
# One process, or $sims with consecutive shares of the meters (control ports 7000, 7001...).
sim_pids=()
for ((k = 0; k < sims; k++)); do
  share=$(( k < sims - 1 ? meters / sims : meters - (sims - 1) * (meters / sims) ))
  at=$(python3 -c "import ipaddress,sys; print(ipaddress.ip_address(sys.argv[1]) + int(sys.argv[2]))" "$first" $((k * (meters / sims))))
  ip netns exec "$ns_sim" "$sim" --address "$at" --meters "$share" "${sim_flags[@]}" --control-port $((7000 + k)) \
    --log-level warn >"$work/sim$k.out" 2>"$work/sim$k.log" &
  pids+=($!)
  sim_pids+=($!)
  for _ in $(seq 1 600); do
    grep -q "meter(s) at" "$work/sim$k.out" 2>/dev/null && break
    kill -0 "${sim_pids[k]}" 2>/dev/null || { cat "$work/sim$k.log" >&2; exit 1; }
    sleep 0.1
  done
done
[ "$sims" = 1 ] || echo "note: $sims simulator processes (open-file limit $(ulimit -n))"
sim_packets() {  # T->O datagrams the simulators sent since start
  local k total=0 n
  for ((k = 0; k < sims; k++)); do
    n=$(in_sim bash -c "exec 3<>/dev/tcp/127.0.0.1/$((7000 + k)); echo status >&3; head -1 <&3" | sed -n 's/.* packets=\([0-9]*\).*/\1/p')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
sim_cpu() {  # "utime stime" of all simulator processes
  local p
  for p in "${sim_pids[@]}"; do bench_cpu_ticks /proc/"$p"/stat; done | awk '{u += $1; s += $2} END {print u, s}'
}

# --- gateway ----------------------------------------------------------------------------------
write_config() {  # write_config FILE METERS
  {
    printf '[gateway]\nsite = "bench"\nstate_dir = "%s/state-%s"\n[logging]\nlevel = "warn"\n' "$work" "$2"
    printf '[status]\nlisten = "127.0.0.1:8080"\n[scanner]\nudp_port = %s\n' "$gw_udp"
    printf '[sinks.file]\npath = "samples.lp"\nmax_mb = 256\nmax_files = 2\n'
    bench_devices "$2" "$first" "$rpi" 'connection = "listen-only"' 'transport = "multicast"'
  } >"$1"
}
metrics() { in_gw curl -sf --max-time 20 http://127.0.0.1:8080/metrics || true; }
sum_metric() { awk -v m="$1" 'index($0, m "{") == 1 || $1 == m {s += $NF} END {printf "%d\n", s}'; }
wait_up() {  # wait_up PID COUNT TIMEOUT_S: until COUNT devices are running; prints how many are
  local up=0 deadline=$((SECONDS + $3))
  while [ $SECONDS -lt "$deadline" ] && kill -0 "$1" 2>/dev/null; do
    up=$(metrics | sum_metric pm500_device_up)
    [ "$up" -ge "$2" ] && break
    sleep 1
  done
  echo "$up"
}
udp_drops() {  # drops of the gateway's sockets on its Class 1 port (/proc/net/udp, last column)
  in_gw awk -v port="$(printf ':%04X' "$gw_udp")" 'NR > 1 && substr($2, length($2) - 4) == port {s += $NF} END {print s + 0}' /proc/net/udp
}
busiest_thread() {  # TID of the thread of PID with the most CPU so far
  for t in /proc/"$1"/task/*; do
    echo "$(bench_cpu_ticks "$t/stat" | awk '{print $1 + $2}') ${t##*/}"
  done | sort -n | tail -1 | cut -d' ' -f2
}

write_config "$work/gateway.toml" "$meters"
ip netns exec "$ns_gw" "$gw" run -c "$work/gateway.toml" >"$work/gateway.log" 2>&1 &
pids+=($!)
gw_pid=$!
t_start=$SECONDS
up=$(wait_up "$gw_pid" "$meters" $((60 + meters / 20)))
echo "meters up: $up of $meters after $((SECONDS - t_start)) s; warm-up ${warmup} s"
sleep "$warmup"
hz=$(getconf CLK_TCK)
scanner_tid=$(busiest_thread "$gw_pid")

# --- window 1: rates, CPU, drops, RSS (no tracer attached) ---------------------------------------
# Each counter is read with its own time stamp, so the few tens of milliseconds the reads take
# do not count against the rates. The gateway's /metrics comes from a view at most 250 ms old:
# with a 10 s window the received count is within 2.5 %.
now() { date +%s.%N; }
m0=$(metrics)
mt0=$(now)
p0=$(sum_metric pm500_device_packets_total <<<"$m0")
s0=$(sim_packets)
st0=$(now)
d0=$(udp_drops)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(now)
read -r gu0 gs0 < <(bench_cpu_ticks /proc/"$gw_pid"/stat)
read -r tu0 ts0 < <(bench_cpu_ticks /proc/"$gw_pid"/task/"$scanner_tid"/stat)
read -r su0 ss0 < <(sim_cpu)
sleep "$seconds"
read -r gu1 gs1 < <(bench_cpu_ticks /proc/"$gw_pid"/stat)
read -r tu1 ts1 < <(bench_cpu_ticks /proc/"$gw_pid"/task/"$scanner_tid"/stat)
read -r su1 ss1 < <(sim_cpu)
t1=$(now)
rss=$(awk '/^VmRSS/ {print $2}' /proc/"$gw_pid"/status)
d1=$(udp_drops)
s1=$(sim_packets)
st1=$(now)
m1=$(metrics)
mt1=$(now)
p1=$(sum_metric pm500_device_packets_total <<<"$m1")
up1=$(sum_metric pm500_device_up <<<"$m1")
load1=$(cut -d' ' -f1-3 /proc/loadavg)
drop_metrics=$(grep -E '^pm500_[a-z_]*(drop|overflow|ovfl)[a-z_]*' <<<"$m1" | grep -Ev '^pm500_(sink|alerts)_' |
  awk '{split($1, n, "{"); s[n[1]] += $NF} END {for (k in s) printf "%s%s=%d", sep, k, s[k]; sep = " "}' || true)

# --- window 2: system calls ---------------------------------------------------------------------
calls=(sendto sendmsg sendmmsg recvfrom recvmsg recvmmsg epoll_wait epoll_pwait read write futex timerfd_settime)
events="raw_syscalls:sys_enter$(printf ',syscalls:sys_enter_%s' "${calls[@]}")"
# datagrams received in this window: sent by the simulator less the socket's drops (exact, where
# /metrics could be 250 ms stale)
q0=$(( $(sim_packets) - $(udp_drops) ))
qt0=$(now)
if [ "$tracer" = perf ]; then
  perf stat -x, -e "$events" -p "$gw_pid" -o "$work/perf-gw" -- sleep "$syscall_seconds" 2>/dev/null &
  pt1=$!
  perf stat -x, -e raw_syscalls:sys_enter -t "$scanner_tid" -o "$work/perf-scanner" -- sleep "$syscall_seconds" 2>/dev/null &
  pt2=$!
  perf stat -x, -e "$events" -p "$(IFS=,; echo "${sim_pids[*]}")" -o "$work/perf-sim" -- sleep "$syscall_seconds" 2>/dev/null
  wait "$pt1" "$pt2" || true
else
  timeout -s INT "$syscall_seconds" strace -c -f -p "$gw_pid" -o "$work/strace-gw" 2>/dev/null || true
fi
q1=$(( $(sim_packets) - $(udp_drops) ))
qt1=$(now)

# --- results ------------------------------------------------------------------------------------
python3 - <<PY
import re
secs = $t1 - $t0
hz = $hz
# datagrams in the CPU window, from each counter's own rate
rate_rx = ($p1 - $p0) / ($mt1 - $mt0)
rate_tx = ($s1 - $s0) / ($st1 - $st0)
n = max(rate_rx * secs, 1)
sent = rate_tx * secs
us = lambda ticks, count: ticks / hz / max(count, 1) * 1e6
print(f"pm500 scale: {$meters} meters x 3 assemblies, RPI {$rpi} ms, topology $topology, window {secs:.1f} s")
print(f"load average {'$load0'} -> {'$load1'}; meters running at the end: {$up1} of {$meters}")
print(f"datagrams/s         received {rate_rx:,.0f}   sent by the simulator {rate_tx:,.0f}")
print(f"kernel drops        {$d1 - $d0} in the window (/proc/net/udp, {($d1 - $d0) / secs:,.0f}/s), {$d1} since start"
      + (f"; /metrics: $drop_metrics" if "$drop_metrics" else ""))
print(f"gateway CPU/dgram   user {us($gu1 - $gu0, n):.2f} us  system {us($gs1 - $gs0, n):.2f} us"
      f"  ({($gu1 - $gu0 + $gs1 - $gs0) / hz / secs * 100:.0f}% of a core)")
print(f"scanner thread      user {us($tu1 - $tu0, n):.2f} us  system {us($ts1 - $ts0, n):.2f} us"
      f"  ({($tu1 - $tu0 + $ts1 - $ts0) / hz / secs * 100:.0f}% of a core; busiest thread, tid $scanner_tid)")
print(f"simulator CPU/dgram user {us($su1 - $su0, sent):.2f} us  system {us($ss1 - $ss0, sent):.2f} us"
      f"  ({($su1 - $su0 + $ss1 - $ss0) / hz / secs * 100:.0f}% of a core; per datagram sent)")
print(f"gateway RSS         {$rss / 1024:.1f} MB")
q = max(($q1 - $q0) / ($qt1 - $qt0) * $syscall_seconds, 1)  # datagrams in the tracer's window
def perf_counts(path):
    out = {}
    try:
        for line in open(path):
            f = line.strip().split(",")
            if len(f) > 2 and f[0].isdigit():
                out[f[2].split(":")[-1].replace("sys_enter_", "")] = int(f[0])
    except FileNotFoundError:
        pass
    return out
if "$tracer" == "perf":
    gw, sc, sm = perf_counts("$work/perf-gw"), perf_counts("$work/perf-scanner"), perf_counts("$work/perf-sim")
    detail = lambda c: "  ".join(f"{k} {v / q:.3f}" for k, v in c.items() if k != "sys_enter" and v)
    print(f"syscalls/dgram      gateway {gw.get('sys_enter', 0) / q:.3f} (scanner thread {sc.get('sys_enter', 0) / q:.3f}),"
          f" {$syscall_seconds} s window, {q / $syscall_seconds:,.0f} datagrams/s")
    print(f"  gateway           {detail(gw)}")
    print(f"  simulator         {sm.get('sys_enter', 0) / q:.3f} per datagram received: {detail(sm)}")
else:
    total = 0
    for line in open("$work/strace-gw"):
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\S+)", line)
        if m and m.group(2) != "total":
            total += int(m.group(1))
            print(f"  {m.group(2):<16}  {int(m.group(1)) / q:.3f} per datagram")
    print(f"syscalls/dgram      gateway {total / q:.3f} (strace -c -f, slows the gateway)")
PY

# --- MODE=overload: twice what the scanner can take, then the recovery ---------------------------
# The simulators cannot offer twice 150k datagrams/s on a 2-core host, so the gateway is made to
# take half: its scanner thread alone goes into a cgroup (v1 cpu controller) whose CFS quota is
# half the CPU the thread used in window 1 (OVERLOAD_QUOTA_PCT overrides, in % of a core), for
# OVERLOAD_SECONDS; then it goes back to the root group. A poller follows the meters' states,
# gateway.overload (and its evidence) and the socket's drops throughout.
# At the end production stops (`fault stop-producing`) so that nothing is in flight, and the
# simulators' sent count, the gateway's received count and its kernel drops are compared.
if [ "${MODE:-}" = overload ]; then
  cg_root=/sys/fs/cgroup/cpu
  [ -w "$cg_root/cpu.cfs_quota_us" ] || { echo "MODE=overload needs the cgroup v1 cpu controller at $cg_root" >&2; exit 2; }
  cg=$cg_root/$prefix-scanner
  rmdir "$cg" 2>/dev/null || true
  mkdir "$cg"
  trap 'echo "$scanner_tid" >"$cg_root/tasks" 2>/dev/null || true; rmdir "$cg" 2>/dev/null || true; cleanup' EXIT
  used_pct=$(python3 -c "print(f'{($tu1 - $tu0 + $ts1 - $ts0) / $hz / ($t1 - $t0) * 100:.1f}')")
  quota_pct=${OVERLOAD_QUOTA_PCT:-$(python3 -c "print(f'{$used_pct / 2:.1f}')")}
  period=$(cat "$cg/cpu.cfs_period_us")
  quota_us=$(python3 -c "print(max(1000, int($quota_pct / 100 * $period)))")
  echo "$quota_us" >"$cg/cpu.cfs_quota_us"  # (python's own write to a cgroup file fails with EINVAL)
  over_s=${OVERLOAD_SECONDS:-20}
  poll_ms=${POLL_MS:-500}
  # /health/live (rendered on a thread of its own, small: each device's state and the active
  # failure ids) every POLL_MS; /api/status, whose rendering at thousands of meters costs the
  # gateway a good part of a core, only for the overload's evidence while it is raised.
  ip netns exec "$ns_gw" python3 - "$poll_ms" "$gw_udp" >"$work/poll" 2>"$work/poll.err" <<'PY' &
import json, sys, time, urllib.request
period, port = int(sys.argv[1]) / 1000, f":{int(sys.argv[2]):04X}"
get = lambda path: json.load(urllib.request.urlopen("http://127.0.0.1:8080" + path, timeout=20))
def drops():
    with open("/proc/net/udp") as f:
        return sum(int(l.split()[-1]) for l in list(f)[1:] if l.split()[1].endswith(port))
evidence_at = 0
while True:
    t = time.time()
    try:
        d = get("/health/live")
        states = {}
        for x in d["devices"].values():
            states[x["state"]] = states.get(x["state"], 0) + 1
        over = "gateway.overload" in d["failures"]
        row = {"t": t, "t_done": time.time(), "running": states.get("running", 0), "states": states,
               "overload": over, "drops": drops()}
        if over and t - evidence_at > 5:
            evidence_at = t
            row["evidence"] = next(f["evidence"] for f in get("/api/status")["failures"] if f["id"] == "gateway.overload")
        print(json.dumps(row), flush=True)
    except Exception as e:
        print(json.dumps({"t": t, "error": repr(e)}), flush=True)
    time.sleep(max(0, period - (time.time() - t)))
PY
  pids+=($!)
  poll_pid=$!
  sleep 3
  o_s0=$(sim_packets); o_t0=$(now)
  echo "$scanner_tid" >"$cg/tasks"
  sleep "$over_s"
  echo "$scanner_tid" >"$cg_root/tasks"
  o_t1=$(now); o_s1=$(sim_packets)
  rmdir "$cg"
  # Recovered: every meter running and gateway.overload cleared (its hold included), or 120 s.
  for _ in $(seq 1 120); do
    last=$(tail -1 "$work/poll")
    python3 -c "import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d.get('t', 0) > $o_t1 and d.get('running') == $meters and not d.get('overload') else 1)" "$last" 2>/dev/null && break
    sleep 0.5
  done
  sleep 2
  # Nothing in flight: production stops, the gateway reads what its socket holds, its view refreshes.
  for ((k = 0; k < sims; k++)); do
    in_sim bash -c "exec 3<>/dev/tcp/127.0.0.1/$((7000 + k)); echo fault stop-producing >&3; head -1 <&3" >/dev/null
  done
  sleep 2
  e_sent=$(sim_packets)
  sleep 1
  kill "$poll_pid" 2>/dev/null || true
  m_end=$(metrics)
  e_recv=$(sum_metric pm500_scanner_datagrams_received_total <<<"$m_end")
  e_drops=$(sum_metric pm500_scanner_kernel_drops_total <<<"$m_end")
  e_udp=$(udp_drops)
  python3 - "$work/poll" <<PY
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in rows if "running" in r]
t_on, t_off, meters = $o_t0, $o_t1, $meters
print(f"overload            scanner thread limited to {float('$quota_pct'):.1f}% of a core (cgroup cpu quota;"
      f" it used {float('$used_pct'):.1f}% in window 1) for {t_off - t_on:.1f} s; load average $(cut -d' ' -f1-3 /proc/loadavg)")
offered = ($o_s1 - $o_s0) / (t_off - t_on)
during = [r for r in ok if t_on + 2 <= r["t"] <= t_off]
if len(during) >= 2:
    a, b = during[0], during[-1]
    drops = (b["drops"] - a["drops"]) / (b["t"] - a["t"])
    rate = offered - drops  # what was not dropped was read (the full socket buffer aside)
    print(f"  during            offered {offered:,.0f}/s, read {rate:,.0f}/s ({offered / max(rate, 1):.2f}x what it took),"
          f" kernel drops {drops:,.0f}/s; meters running {min(r['running'] for r in during)}-{max(r['running'] for r in during)}"
          f" of {meters}; states at the end {during[-1]['states']}")
raised = [r for r in ok if r["overload"] and r["t"] >= t_on]
if raised:
    print(f"  gateway.overload  raised {raised[0]['t'] - t_on:.1f} s after the limit")
    for r in ok:
        if "evidence" in r and r["t"] >= t_on:
            print(f"    at +{r['t'] - t_on:.0f} s: {r['evidence']}")
else:
    print("  gateway.overload  NOT raised")
after = [r for r in ok if r["t"] > t_off]
up = next((r for r in after if r["running"] == meters), None)
clear = next((r for r in after if not r["overload"]), None)
print(f"  after             every meter running {up['t'] - t_off:.1f} s after the limit ended" if up else
      f"  after             NOT every meter running: {after[-1]['states'] if after else '-'}")
print(f"                    gateway.overload cleared {clear['t'] - t_off:.1f} s after" if clear else
      "                    gateway.overload NOT cleared")
errors = [r for r in rows if "error" in r]
if errors:
    print(f"  ({len(errors)} of {len(rows)} /api/status reads failed: {errors[0]['error']})")
fetch = sorted(r["t_done"] - r["t"] for r in ok)
if fetch:
    print(f"  /health/live      {len(ok)} reads, {fetch[len(fetch) // 2] * 1000:.0f} ms median, {fetch[-1] * 1000:.0f} ms max")
sent, recv, drops, udp = $e_sent, $e_recv, $e_drops, $e_udp
print(f"exact count         sent by the simulators {sent:,}, read by the gateway {recv:,}: difference {sent - recv:,};"
      f" pm500_scanner_kernel_drops_total {drops:,} (/proc/net/udp {udp:,}); unexplained {sent - recv - drops:,}")
PY
  exit 0
fi

# --- callgrind: user instructions per datagram -------------------------------------------------
kill -TERM "$gw_pid"
wait "$gw_pid" 2>/dev/null || true
[ "$cg_meters" -gt 0 ] || exit 0
[ "$cg_meters" -le "$meters" ] || cg_meters=$meters
write_config "$work/callgrind.toml" "$cg_meters"
ip netns exec "$ns_gw" valgrind --tool=callgrind --separate-threads=yes --instr-atstart=no --dump-instr=no \
  --callgrind-out-file="$work/cg.%p" "$gw" run -c "$work/callgrind.toml" >"$work/callgrind.log" 2>&1 &
pids+=($!)
cg_pid=$!
cg_up=$(wait_up "$cg_pid" "$cg_meters" 120)
sleep 3
c0=$(metrics | sum_metric pm500_device_packets_total)
callgrind_control -i on "$cg_pid" >/dev/null 2>&1
sleep "$cg_seconds"
callgrind_control -i off "$cg_pid" >/dev/null 2>&1
c1=$(metrics | sum_metric pm500_device_packets_total)
callgrind_control -d "$cg_pid" >/dev/null 2>&1
kill -TERM "$cg_pid"
wait "$cg_pid" 2>/dev/null || true
python3 - "$work" "$((c1 - c0))" "$cg_meters" "$cg_up" "$cg_seconds" <<'PY'
import glob, sys
work, n, meters, up, secs = sys.argv[1], max(int(sys.argv[2]), 1), sys.argv[3], sys.argv[4], sys.argv[5]
threads = {}
for path in glob.glob(f"{work}/cg.*"):
    total, scanner = 0, False
    for line in open(path, errors="replace"):
        if line.startswith(("totals:", "summary:")):
            total = max(total, int(line.split()[1]))
        elif line.startswith("fn=") and ("cip::detail::Engine" in line or "cip::Scanner" in line):
            scanner = True
    part = path.rsplit("-", 1)[-1]
    if total:
        threads[part] = threads.get(part, (0, False))
        threads[part] = (threads[part][0] + total, threads[part][1] or scanner)
all_ir = sum(t for t, _ in threads.values())
scan_ir = sum(t for t, s in threads.values() if s)
# The datagrams the scanner thread read in the counted span, exactly: its calls of cip::decode_io
# (one per datagram without a run/idle header), where the /metrics count above may be 250 ms stale.
decoded, names = 0, {}
for path in glob.glob(f"{work}/cg.*"):
    target = None
    for line in open(path, errors="replace"):
        if line.startswith(("fn=(", "cfn=(")):  # compressed names: "(id) name" the first time, "(id)" after
            key, _, name = line.split("=", 1)[1].rstrip("\n").partition(" ")
            if name:
                names[(path, key)] = name
            if line.startswith("cfn="):
                target = names.get((path, key), "")
        elif line.startswith("calls=") and target and target.startswith("cip::decode_io("):
            decoded += int(line[6:].split()[0])
print(f"callgrind           {meters} meters ({up} up), {secs} s counted, {n / float(secs):,.0f} datagrams/s under valgrind")
print(f"instructions/dgram  gateway (all threads) {all_ir / n:,.0f}   scanner thread {scan_ir / n:,.0f}"
      + (f"; {scan_ir / decoded:,.0f} per datagram it decoded ({decoded:,} calls of cip::decode_io)" if decoded else ""))
PY
if [ -n "${CALLGRIND_KEEP:-}" ]; then mkdir -p "$CALLGRIND_KEEP" && cp "$work"/cg.* "$CALLGRIND_KEEP"/; fi
