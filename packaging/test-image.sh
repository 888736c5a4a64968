#!/usr/bin/env bash
# Builds the container image from this repository with the Dockerfile users build
# (packaging/Dockerfile), then runs it as the README's Deployment section says -- host network,
# configuration and state as mounts -- against pm500-sim and a mosquitto on loopback:
#   ready (/health/ready 200), samples at the broker, runs as a non-root user, the image's
#   HEALTHCHECK passes, SIGTERM (podman stop) ends it in order within the grace period with what
#   the unreachable broker did not take spooled, a new container on the same state volume
#   delivers that spool, and a configuration error exits 2 with the message in `podman logs`.
# Leaves the .deb the build stage made in $PM500_PKG_OUT (for packaging/test-deb.sh).
#   packaging/test-image.sh            (root; podman rootful, vfs storage, runc)
# Env: PM500_CI_CACHE (default /var/cache/pm500-ci), PM500_PKG_OUT (default build/packaging),
#      CI=true (a missing tool fails instead of skipping).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/packaging/test-lib.sh"
pm500_ci_need_root
pm500_ci_need_tools "$repo" podman debootstrap runc mosquitto mosquitto_sub curl python3

out=${PM500_PKG_OUT:-$repo/build/packaging}
mkdir -p "$out" "$PM500_CI_CACHE/ccache"
work=$(mktemp -d /tmp/pm500-ci-image.XXXXXX)
chmod 755 "$work"
tag=pm500-ci-gateway:latest
id=$$
gw=pm500-ci-gw-$id gw2=pm500-ci-gw2-$id sim=pm500-ci-sim-$id bad=pm500-ci-bad-$id deb=pm500-ci-deb-$id
vol=pm500-ci-state-$id
broker_pid=""

cleanup() {
  local rc=$?
  set +e
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  for c in "$gw" "$gw2" "$sim" "$bad" "$deb"; do pm_podman rm -f -v -t 0 "$c" >/dev/null 2>&1; done
  pm_podman volume rm -f "$vol" >/dev/null 2>&1
  pm500_ci_end "$rc" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Podman without systemd (CI) logs that it cannot schedule the periodic health checks (timers):
# that noise goes to $work/podman.log; `podman healthcheck run` works all the same.
run_opts=(--network host --ulimit nofile=4096:4096 --ulimit nproc=1024:1024)
now_ms() { date +%s%3N; }

# ---- build, as a user does, with a compiler cache for repeated CI runs ----
pm500_ci_base_images
t0=$SECONDS
log "podman build -f packaging/Dockerfile (log: $work/build.log)"
if ! pm_podman build --format docker --network host --isolation chroot -v "$PM500_CI_CACHE/ccache:/ccache" \
      -f packaging/Dockerfile -t "$tag" "$repo" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log"; die "podman build"
fi
log "ok: image built in $((SECONDS - t0)) s"
size=$(pm_podman image inspect --format '{{.Size}}' "$tag")
# Uncompressed, as `podman images` shows it (MB = 10^6 bytes); the target is 80 MB (packaging/README.md,
# "Image size": what is in it and what was left out).
log "image size: $size bytes ($((size / 1000000)).$((size % 1000000 / 100000)) MB; target: at most 80 MB)"
[ "$size" -le 80000000 ] || die "the image is $size bytes, over the 80 MB target"
pm_podman run --rm "${run_opts[@]}" --entrypoint sh "$tag" -c 2>>"$work/podman.log" \
  'for c in cc gcc g++ c++ clang cmake make apt-get perl; do command -v $c && exit 1; done; exit 0' \
  || die "the runtime image holds a compiler, build tool, apt or perl"
log "ok: no compiler, build tool, apt or perl in the runtime image"
pm_podman run --rm "${run_opts[@]}" --entrypoint sh "$tag" -c 2>>"$work/podman.log" \
  'for b in /usr/bin/pm500-gateway /usr/bin/pm500-sim /bin/bash; do ldd "$b" | grep "not found" && exit 1; done
   ls /usr/lib/x86_64-linux-gnu/libgnutls* 2>/dev/null && exit 1
   [ -s /etc/ssl/certs/ca-certificates.crt ]' \
  || die "a library the gateway needs is missing, GnuTLS is still in the image, or the CA bundle is gone"
log "ok: every library the gateway and the simulator link is there; no GnuTLS; the CA bundle is"

# The build stage's .deb (its layers are cached: this only names the stage).
pm_podman build --format docker --network host --isolation chroot -v "$PM500_CI_CACHE/ccache:/ccache" --target build \
  -f packaging/Dockerfile -t pm500-ci-gateway-build:latest "$repo" >"$work/build-stage.log" 2>&1 \
  || { tail -20 "$work/build-stage.log"; die "podman build --target build"; }
pm_podman create --name "$deb" pm500-ci-gateway-build:latest >/dev/null
rm -f "$out"/pm500-gateway_*.deb
pm_podman cp "$deb:/pm500-gateway.deb" "$work/pm500-gateway.deb"
pm_podman rm "$deb" >/dev/null
debname=$(dpkg-deb -f "$work/pm500-gateway.deb" Package)_$(dpkg-deb -f "$work/pm500-gateway.deb" Version)_$(dpkg-deb -f "$work/pm500-gateway.deb" Architecture).deb
mv "$work/pm500-gateway.deb" "$out/$debname"
log "ok: $out/$debname from the build stage"

# ---- the world around it: a meter (pm500-sim from the image) and a broker, on loopback ----
addr=127.0.26.$((RANDOM % 200 + 20))
mqtt_port=$(free_port tcp) status_port=$(free_port tcp) control_port=$(free_port tcp) udp_port=$(free_port udp)
cat >"$work/mosquitto.conf" <<EOF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
EOF
start_broker() {
  mosquitto -c "$work/mosquitto.conf" >>"$work/mosquitto.log" 2>&1 &
  broker_pid=$!
  wait_for 10 "mosquitto on 127.0.0.1:$mqtt_port" mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -t probe -W 1 -E
}
start_broker

pm_podman run -d --name "$sim" "${run_opts[@]}" --entrypoint pm500-sim "$tag" \
  --address "$addr" --control-port "$control_port" --log-format json >/dev/null 2>>"$work/podman.log"
sim_up() { pm_podman logs "$sim" 2>&1 | grep -q 'meter(s) at'; }
wait_for 20 "pm500-sim on $addr" sim_up || { pm_podman logs "$sim" | tail; die "pm500-sim did not start"; }

# The configuration, as an operator writes it; the status page on loopback only here.
cat >"$work/gateway.toml" <<EOF
[gateway]
site = "ci"

[logging]
format = "json"

[scanner]
local_address = "0.0.0.0"
udp_port = $udp_port

[status]
listen = "127.0.0.1:\${PM500_STATUS_PORT}"

[[devices]]
name = "mcc-1"
address = "$addr"
asset = "main-switchboard"
connection = "listen-only"
fallback = "explicit"
rpi_ms = 200
assemblies = [101]
ct = "400:5"
nominal_voltage = 480
ratios_applied_by = "meter"

[sinks.mqtt]
url = "mqtt://127.0.0.1:$mqtt_port"
client_id = "pm500-ci-$id"
topic = "pm500/{site}/{device}/{assembly}"
qos = 1
EOF
chmod 644 "$work/gateway.toml"
gw_run() {  # gw_run NAME CONFIG [podman run options...]
  local name=$1 config=$2; shift 2
  pm_podman run -d --name "$name" "${run_opts[@]}" -e PM500_STATUS_PORT="$status_port" \
    -v "$config:/etc/pm500-gateway/gateway.toml:ro" -v "$vol:/var/lib/pm500-gateway" "$@" "$tag" \
    >/dev/null 2>>"$work/podman.log"
}
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$status_port/health/ready")" = 200 ]; }

# ---- run, as a user does ----
gw_run "$gw" "$work/gateway.toml"
wait_for 60 "/health/ready answers 200" ready || { pm_podman logs "$gw" | tail -30; die "not ready"; }
mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -t 'pm500/ci/#' -C 5 -W 30 >"$work/first.json" \
  || { pm_podman logs "$gw" | tail -30; die "no samples at the broker"; }
log "ok: samples at the broker ($(head -c 120 "$work/first.json")...)"
pid=$(pm_podman inspect --format '{{.State.Pid}}' "$gw")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
user=$(pm_podman exec "$gw" id -un)
check "the gateway runs as a non-root user ($user, uid $uid)" test "$uid" -ne 0 -a "$user" = pm500
check "the image's HEALTHCHECK passes (podman healthcheck run)" pm_podman healthcheck run "$gw"

# The broker goes away: samples wait in memory, then in the sink's spool on the state volume.
kill "$broker_pid"; wait "$broker_pid" 2>/dev/null || true; broker_pid=""
outage_ms=$(now_ms)
sleep 5
stop_ms=$(now_ms)
t0=$SECONDS
pm_podman stop "$gw" >/dev/null 2>>"$work/podman.log"  # SIGTERM, then SIGKILL after the grace period (10 s)
took=$((SECONDS - t0))
code=$(pm_podman inspect --format '{{.State.ExitCode}}' "$gw")
pm_podman logs "$gw" >"$work/gw.log" 2>&1
check "podman stop ends it with exit code 0 in $took s (grace 10 s)" test "$code" = 0 -a "$took" -lt 10
check "the log says SIGTERM was received" grep -q 'received SIGTERM, shutting down' "$work/gw.log"
stopped=$(grep -o 'sink mqtt stopped: [^"]*' "$work/gw.log" || true)
backlog=$(sed -n 's/.*(backlog \([0-9]*\)).*/\1/p' <<<"$stopped")
check "the log says the broker's samples were spooled: $stopped" test -n "$backlog" -a "${backlog:-0}" -gt 0
check "nothing dropped" grep -q 'dropped 0$' <<<"$stopped"
check "the log ends with \"stopped\"" sh -c "tail -1 '$work/gw.log' | grep -q '\"stopped\"'"

# A new container on the same state volume delivers the spool once the broker is back.
start_broker
mosquitto_sub -h 127.0.0.1 -p "$mqtt_port" -t 'pm500/ci/#' -W 60 >"$work/after.json" 2>/dev/null &
sub_pid=$!
sleep 0.5
gw_run "$gw2" "$work/gateway.toml"
wait_for 60 "restarted on the same state volume: ready" ready || { pm_podman logs "$gw2" | tail -30; die "not ready"; }
spooled_seen() {
  grep -o '"time_ms":[0-9]*' "$work/after.json" | cut -d: -f2 |
    awk -v a="$outage_ms" -v b="$stop_ms" '$1 >= a && $1 <= b {n++} END {exit n > 0 ? 0 : 1}'
}
wait_for 30 "samples from the outage (spooled before the restart) reach the broker" spooled_seen \
  || { pm_podman logs "$gw2" | tail -30; die "the spool was not delivered after the restart"; }
kill "$sub_pid" 2>/dev/null || true
pm_podman stop "$gw2" >/dev/null 2>>"$work/podman.log"
check "the second stop exits 0 too" test "$(pm_podman inspect --format '{{.State.ExitCode}}' "$gw2")" = 0

# A configuration error: exit 2, the message (file:line:column, the key) in podman logs.
printf '[gateway]\nsite = "ci"\nsitee = "typo"\n' >"$work/bad.toml"
chmod 644 "$work/bad.toml"
gw_run "$bad" "$work/bad.toml"
code=$(pm_podman wait "$bad")
pm_podman logs "$bad" >"$work/bad.log" 2>&1
check "a configuration error exits 2 (got $code)" test "$code" = 2
check "podman logs names the key: $(grep -m1 'unknown key' "$work/bad.log" | cut -c1-160 || true)" \
  grep -q 'gateway.toml:3:1: .*unknown key "sitee"' "$work/bad.log"

pm_podman image prune -f >/dev/null 2>&1 || true   # images of earlier runs
log "PASSED (image $((size / 1000000)) MB)"
