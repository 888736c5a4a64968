#!/usr/bin/env bash
# Runs the .deb's unit under a real systemd: a clean Debian 12 root (debootstrap minbase, with
# Debian's systemd) with the .deb installed, booted with systemd as PID 1 in a podman container
# (host network, runc). The gateway runs with its built-in simulated meter and a file sink:
#   start returns once the gateway said READY=1 (Type=notify), its STATUS= is shown, the
#   hardening is in force in the process (no capabilities, no new privileges, seccomp, user
#   pm500), /health/ready answers; `systemctl reload` applies the file (RELOADING=1 ... READY=1)
#   and an invalid file is refused with the gateway kept running; with WatchdogSec=4s (drop-in)
#   the pings keep it alive, and a frozen gateway (SIGSTOP) is restarted by the watchdog;
#   `systemctl stop` ends it in order with exit code 0.
#   packaging/test-systemd.sh [FILE.deb]   default: the newest in $PM500_PKG_OUT (test-image.sh)
# Needs root and Debian's package mirror. The root with systemd is cached for the ISO week.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/packaging/test-lib.sh"
pm500_ci_need_root
pm500_ci_need_tools "$repo" podman debootstrap runc curl python3
out=${PM500_PKG_OUT:-$repo/build/packaging}
deb=${1:-$(ls -t "$out"/pm500-gateway_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || die "no .deb given and none in $out (run packaging/test-image.sh first)"

base=$(pm500_ci_rootfs)
sdtar="${base%.tar}-systemd.tar"
root=$(mktemp -d /var/tmp/pm500-ci-systemd.XXXXXX)
box=pm500-ci-systemd-$$
cleanup() {
  local rc=$?
  set +e
  pm_podman rm -f -t 0 "$box" >/dev/null 2>&1
  mountpoint -q "$root/proc" && umount "$root/proc"
  if [ "$rc" -ne 0 ]; then echo "---- the root kept in $root"
  else rm -rf --one-file-system "$root"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@" >>"$root/tmp/apt.log" 2>&1 || { tail -20 "$root/tmp/apt.log"; return 1; }
}

# ---- the root: minbase + systemd (cached for the week), then the .deb as an administrator installs it ----
if [ ! -s "$sdtar" ]; then
  log "installing systemd into a minbase root (cache miss: $sdtar)"
  tar -C "$root" -xf "$base"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc"
  in_root apt-get update || die "apt-get update in the root"
  in_root apt-get install -y --no-install-recommends systemd || die "apt-get install systemd"
  umount "$root/proc"
  rm -rf "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb "$root/tmp/"*
  tar -C "$root" -cf "$sdtar.tmp" . && mv "$sdtar.tmp" "$sdtar"
  rm -rf --one-file-system "$root" && mkdir "$root"
fi
tar -C "$root" -xf "$sdtar"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/pm500-gateway.deb"
mount -t proc proc "$root/proc"
in_root apt-get update || die "apt-get update in the root"
in_root apt-get install -y --no-install-recommends /tmp/pm500-gateway.deb || die "apt-get install the .deb"
umount "$root/proc"
rm -f "$root/tmp/pm500-gateway.deb"

addr=127.0.63.$((RANDOM % 200 + 20))
status_port=$(free_port tcp) udp_port=$(free_port udp)
cfg=$root/etc/pm500-gateway/gateway.toml
write_config() {  # write_config LOG_LEVEL
  cat >"$cfg" <<EOF
[gateway]
site = "systemd"
[logging]
format = "json"
level = "$1"
[simulator]
enabled = true
address = "$addr"
[scanner]
local_address = "0.0.0.0"
udp_port = $udp_port
[status]
listen = "127.0.0.1:$status_port"
[[devices]]
name = "m1"
address = "$addr"
rpi_ms = 200
assemblies = [101]
[sinks.file]
path = "/var/lib/pm500-gateway/samples.lp"
EOF
}
write_config info

# ---- boot ----
log "booting systemd as PID 1 (podman --systemd=always, runc, host network)"
pm_podman run -d --name "$box" --network host --systemd=always --ulimit nofile=4096:4096 \
  --ulimit nproc=1024:1024 --rootfs "$root" /lib/systemd/systemd >/dev/null 2>"$root/tmp/podman.log" \
  || { cat "$root/tmp/podman.log"; die "podman run systemd"; }
in_box() { pm_podman exec "$box" "$@" 2>>"$root/tmp/podman.log"; }
booted() { in_box systemctl is-system-running | grep -Eq '^(running|degraded)$'; }
wait_for 60 "systemd $(in_box systemctl --version | head -1 | cut -d' ' -f2) is PID 1 and up" booted \
  || { pm_podman logs "$box" | tail -20; die "systemd did not come up"; }
prop() { in_box systemctl show -p "$1" --value pm500-gateway; }
journal() { in_box journalctl -u pm500-gateway --no-pager "$@"; }
journal_has() {  # the unit's journal has $1 (journald may take a moment to take the lines in)
  local i
  for i in $(seq 20); do grep -q -- "$1" <<<"$(journal)" && return 0; sleep 0.5; done
  return 1
}
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$status_port/health/ready")" = 200 ]; }

# ---- start: returns only after READY=1 ----
check "systemctl start returns (Type=notify: after READY=1)" in_box timeout 60 systemctl start pm500-gateway
check "active (running), Type=$(prop Type), WatchdogUSec=$(prop WatchdogUSec)" \
  test "$(prop ActiveState)/$(prop SubState)/$(prop Type)/$(prop WatchdogUSec)" = active/running/notify/1min
status=$(prop StatusText)
check "the gateway's STATUS= in systemctl status: $status" test -n "$status"
check "the pre-start check was offline (check --offline)" journal_has 'not probed (--offline)'
pid=$(prop MainPID)
st=$(in_box cat "/proc/$pid/status")
field() { awk -v k="$1:" '$1 == k {print $2}' <<<"$st"; }
check "hardening in force: user pm500, no capabilities, no new privileges, seccomp filter" \
  test "$(in_box id -un "$(field Uid)")/$(field CapEff)/$(field CapBnd)/$(field NoNewPrivs)/$(field Seccomp)" \
       = pm500/0000000000000000/0000000000000000/1/2
wait_for 20 "/health/ready answers 200" ready || { journal -o cat | tail -20; die "not ready"; }

# ---- reload: applied in place; an invalid file refused, the gateway kept ----
write_config debug
check "systemctl reload returns" in_box timeout 30 systemctl reload pm500-gateway
check "the same process ($pid) reloaded" test "$(prop MainPID)" = "$pid"
check "the reload applied [logging] level = debug live" journal_has 'reload compared'
status=$(prop StatusText)
check "STATUS= after READY=1 names the reload: $status" grep -q 'last reload' <<<"$status"
printf '[gateway]\nsite = "systemd"\nsitee = "typo"\n' >"$cfg"
check "systemctl reload of an invalid file returns" in_box timeout 30 systemctl reload pm500-gateway
check "the invalid file is refused in the log" journal_has 'reload refused'
check "and the gateway keeps running" test "$(prop MainPID)/$(prop ActiveState)" = "$pid/active"
write_config info

# ---- stop: in order, exit code 0 ----
check "systemctl stop returns" in_box timeout 60 systemctl stop pm500-gateway
check "stopped in order: Result=$(prop Result), exit status $(prop ExecMainStatus)" \
  test "$(prop Result)/$(prop ExecMainStatus)/$(prop ActiveState)" = success/0/inactive
check "the log says SIGTERM was received" journal_has 'received SIGTERM, shutting down'

# ---- watchdog: pings keep it alive; a frozen gateway is restarted ----
mkdir -p "$root/etc/systemd/system/pm500-gateway.service.d"
printf '[Service]\nWatchdogSec=4s\nTimeoutAbortSec=3s\nRestartSec=1\n' \
  >"$root/etc/systemd/system/pm500-gateway.service.d/watchdog-test.conf"
in_box systemctl daemon-reload
check "started with WatchdogSec=4s" in_box timeout 60 systemctl start pm500-gateway
pid=$(prop MainPID)
sleep 10
check "alive after 10 s (2.5 watchdog periods): same process, no restart" \
  test "$(prop MainPID)/$(prop NRestarts)/$(prop ActiveState)" = "$pid/0/active"
in_box sh -c "kill -STOP $pid" || die "kill -STOP $pid"
log "the gateway frozen (SIGSTOP): no more WATCHDOG=1"
restarted() { [ "$(prop NRestarts)" -ge 1 ] && [ "$(prop MainPID)" != "$pid" ] && [ "$(prop ActiveState)" = active ]; }
wait_for 30 "systemd's watchdog restarted it in a new process" restarted \
  || { journal | tail -20; die "the watchdog did not restart the frozen gateway"; }
check "systemd logged the watchdog timeout: $(journal | grep -m1 -o 'Watchdog timeout.*')" journal_has 'Watchdog timeout'
check "stopped again" in_box timeout 60 systemctl stop pm500-gateway
log "PASSED"
