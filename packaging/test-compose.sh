#!/usr/bin/env bash
# Starts the compose stack's gateway, broker and InfluxDB (packaging/compose.yaml) with
# podman-compose, as a site trial does, with pm500-sim (from the gateway image) as the meter:
#   the broker's TLS certificates made by packaging/compose/make-certs.sh; InfluxDB created the
#   gateway's database; the gateway is ready; samples arrive at the broker over TLS (and a client
#   without the CA is refused); samples land in InfluxDB with the tags the dashboard queries;
#   `podman-compose down -v` removes the containers and volumes. Grafana (profile "grafana", an
#   upstream image) is not started here.
#   packaging/test-compose.sh          (root; podman rootful, vfs storage, runc, host network)
# Reuses the gateway image packaging/test-image.sh built (pm500-ci-gateway:latest) when present,
# else builds it. Servers bind to one 127.0.44.x address only.
# Env: PM500_CI_CACHE (default /var/cache/pm500-ci), CI=true (a missing tool fails instead of skipping).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/packaging/test-lib.sh"
pm500_ci_need_root
pm500_ci_need_tools "$repo" podman podman-compose debootstrap runc openssl mosquitto_sub curl python3

id=$$
project=pm500-ci-compose-$id
gw_image=localhost/pm500-ci-compose-gateway:$id
sim=pm500-ci-compose-sim-$id
work=$(mktemp -d /tmp/pm500-ci-compose.XXXXXX)
chmod 755 "$work"
addr=127.0.44.$((RANDOM % 100 + 10))    # broker, InfluxDB, status page
meter=127.0.44.$((RANDOM % 100 + 130))  # pm500-sim

export PODMAN_HOSTNET_GLOBAL_ARGS="--root $PM500_CI_CACHE/containers --runroot /run/pm500-ci-containers --storage-driver vfs --runtime runc"
compose() {
  podman-compose -p "$project" -f "$repo/packaging/compose.yaml" --podman-path "$repo/packaging/compose/podman-hostnet" \
    --podman-run-args "--ulimit nofile=4096:4096 --ulimit nproc=1024:1024" "$@"
}

cleanup() {
  local rc=$?
  set +e
  if [ $rc -ne 0 ]; then
    for s in gateway mosquitto influxdb; do
      pm_podman logs "${project}_${s}_1" >"$work/$s.log" 2>&1
    done
  fi
  compose down -v -t 5 >>"$work/compose.log" 2>&1
  pm_podman rm -f -v -t 0 "$sim" >/dev/null 2>&1
  local c v
  for c in $(pm_podman ps -a -q --filter "label=io.podman.compose.project=$project" 2>/dev/null); do
    pm_podman rm -f -v -t 0 "$c" >/dev/null 2>&1
  done
  for v in $(pm_podman volume ls -q --filter "label=io.podman.compose.project=$project" 2>/dev/null); do
    pm_podman volume rm -f "$v" >/dev/null 2>&1
  done
  pm_podman untag "$gw_image" "$gw_image" >/dev/null 2>&1
  pm500_ci_end "$rc" "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a free TCP port on $addr, or UDP on 0.0.0.0
  python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM)
s.bind(("0.0.0.0" if sys.argv[1]=="udp" else sys.argv[2], 0)); print(s.getsockname()[1])' "$1" "$addr"
}

# ---- images: the gateway's (reused from test-image.sh when there), broker and InfluxDB from Debian ----
pm500_ci_base_images
t0=$SECONDS
if pm_podman image exists localhost/pm500-ci-gateway:latest; then
  log "reusing the gateway image packaging/test-image.sh built (pm500-ci-gateway:latest)"
  pm_podman tag localhost/pm500-ci-gateway:latest "$gw_image"
else
  log "podman build -f packaging/Dockerfile (no image from test-image.sh; log: $work/build.log)"
  mkdir -p "$PM500_CI_CACHE/ccache"
  pm_podman build --format docker --network host --isolation chroot -v "$PM500_CI_CACHE/ccache:/ccache" \
    -f "$repo/packaging/Dockerfile" -t "$gw_image" "$repo" >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log"; die "podman build of the gateway image"; }
fi
# Kept between runs under these names (their layers are the cache); rebuilt when a file changes.
for s in mosquitto influxdb; do
  old=$(pm_podman image inspect --format '{{.Id}}' "localhost/pm500-ci-compose-$s:latest" 2>/dev/null || true)
  pm_podman build --format docker --network host --isolation chroot -f "$repo/packaging/compose/$s.Containerfile" \
    -t "localhost/pm500-ci-compose-$s:latest" "$repo/packaging/compose" >"$work/build-$s.log" 2>&1 \
    || { tail -30 "$work/build-$s.log"; die "podman build of packaging/compose/$s.Containerfile"; }
  # A changed Containerfile or entrypoint made a new image: the one it replaces goes.
  if [ -n "$old" ] && [ "$old" != "$(pm_podman image inspect --format '{{.Id}}' "localhost/pm500-ci-compose-$s:latest")" ]; then
    pm_podman rmi "$old" >/dev/null 2>&1 || true
  fi
done
log "ok: images ready in $((SECONDS - t0)) s (broker $(( $(pm_podman image inspect --format '{{.Size}}' localhost/pm500-ci-compose-mosquitto:latest) / 1000000 )) MB, InfluxDB $(( $(pm_podman image inspect --format '{{.Size}}' localhost/pm500-ci-compose-influxdb:latest) / 1000000 )) MB)"

# ---- the stack's inputs: certificates, environment, the meter ----
export PM500_CERT_DIR=$work/certs
"$repo/packaging/compose/make-certs.sh" "$addr" >/dev/null
check "make-certs.sh: the broker's certificate verifies against its CA" \
  openssl verify -CAfile "$work/certs/ca.crt" "$work/certs/server.crt"
# The stack's gateway.toml with one change: a free Class 1 UDP port instead of 2222 (others may
# run gateways on this machine).
udp_port=$(free_port udp)
sed "s/^udp_port = 2222\$/udp_port = $udp_port/" "$repo/packaging/compose/gateway.toml" >"$work/gateway.toml"
check "the stack's gateway.toml differs only in udp_port" \
  test "$(diff "$repo/packaging/compose/gateway.toml" "$work/gateway.toml" | grep -c '^[<>]')" = 2
chmod 644 "$work/gateway.toml"
export PM500_GATEWAY_CONFIG=$work/gateway.toml PM500_GATEWAY_IMAGE=$gw_image \
  PM500_MOSQUITTO_IMAGE=localhost/pm500-ci-compose-mosquitto:latest \
  PM500_INFLUXDB_IMAGE=localhost/pm500-ci-compose-influxdb:latest \
  PM500_SITE=ci PM500_METER_1=$meter PM500_STATUS_ADDRESS=$addr PM500_STATUS_PORT=$(free_port tcp) \
  PM500_MQTT_HOST=$addr PM500_MQTT_LISTEN=$addr PM500_MQTT_PORT=$(free_port tcp) \
  PM500_MQTT_PASSWORD=ci-$RANDOM$RANDOM \
  PM500_INFLUXDB_HOST=$addr PM500_INFLUXDB_LISTEN=$addr PM500_INFLUXDB_PORT=$(free_port tcp) \
  PM500_INFLUXDB_RPC=$addr:$(free_port tcp)

pm_podman run -d --name "$sim" --network host --ulimit nofile=4096:4096 --ulimit nproc=1024:1024 \
  --entrypoint pm500-sim "$gw_image" --address "$meter" --nominal-voltage 480 --ct 400:5 --log-format json \
  >/dev/null 2>>"$work/podman.log"
sim_up() { pm_podman logs "$sim" 2>&1 | grep -q 'meter(s) at'; }
wait_for 20 "pm500-sim on $meter" sim_up || { pm_podman logs "$sim" | tail; die "pm500-sim did not start"; }

# ---- up, as a site trial does (without Grafana) ----
t0=$SECONDS
log "podman-compose up -d gateway mosquitto influxdb (project $project; log: $work/compose.log)"
compose up -d --no-build gateway mosquitto influxdb >"$work/compose.log" 2>&1 \
  || { tail -30 "$work/compose.log"; die "podman-compose up"; }
running() { [ "$(pm_podman ps -q --filter "label=io.podman.compose.project=$project" | wc -l)" = 3 ]; }
check "three containers running (gateway, mosquitto, influxdb)" running

influx="http://$addr:$PM500_INFLUXDB_PORT"
wait_for 60 "InfluxDB answers on $addr:$PM500_INFLUXDB_PORT" curl -fsS "$influx/ping" \
  || { pm_podman logs "${project}_influxdb_1" 2>&1 | tail -20; die "InfluxDB did not start"; }
db_exists() { curl -fsS "$influx/query" --data-urlencode 'q=SHOW DATABASES' | grep -q '\["pm500"\]'; }
wait_for 30 "InfluxDB has the gateway's database pm500" db_exists \
  || { pm_podman logs "${project}_influxdb_1" 2>&1 | tail -20; die "database pm500 missing"; }
ready() { [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr:$PM500_STATUS_PORT/health/ready")" = 200 ]; }
wait_for 90 "the gateway's /health/ready answers 200" ready \
  || { pm_podman logs "${project}_gateway_1" 2>&1 | tail -30; die "the gateway is not ready"; }
log "ok: stack up and ready in $((SECONDS - t0)) s"

# Samples at the broker over TLS, with the account compose gives both sides.
sub=(mosquitto_sub -h "$addr" -p "$PM500_MQTT_PORT" -u pm500-gateway -P "$PM500_MQTT_PASSWORD" -t 'pm500/ci/#')
"${sub[@]}" --cafile "$work/certs/ca.crt" -C 3 -W 30 >"$work/mqtt.json" \
  || { pm_podman logs "${project}_gateway_1" 2>&1 | tail -30; die "no samples at the broker over TLS"; }
check "samples at the broker over TLS ($(head -c 100 "$work/mqtt.json")...)" grep -q '"device":"mcc-1"' "$work/mqtt.json"
PM500_CERT_DIR=$work/other-ca "$repo/packaging/compose/make-certs.sh" >/dev/null
check "the broker's certificate fails against another CA (a client that does not trust it is refused)" \
  sh -c "! $(printf '%q ' "${sub[@]}") --cafile $work/other-ca/ca.crt -C 1 -W 5 >/dev/null 2>&1"
check "a plain-text client gets nothing (TLS only)" \
  sh -c "! $(printf '%q ' "${sub[@]}") -C 1 -W 5 >/dev/null 2>&1"
check "the broker refuses a wrong password" \
  sh -c "! mosquitto_sub -h $addr -p $PM500_MQTT_PORT --cafile $work/certs/ca.crt -u pm500-gateway -P wrong -t '#' -C 1 -W 5 >/dev/null 2>&1"

# Samples in InfluxDB, with the tags and fields the dashboard queries.
query() { curl -fsS -G "$influx/query" --data-urlencode db=pm500 --data-urlencode "q=$1"; }
count_points() {
  query "SELECT count(\"voltage_l1_n_v\") FROM \"powermonitor_500\" WHERE \"site\" = 'ci' AND \"device\" = 'mcc-1' AND \"asset\" = 'main-switchboard'" \
    >"$work/influx.json" && grep -q '"values":\[\["1970-01-01T00:00:00Z",[1-9]' "$work/influx.json"
}
wait_for 30 "samples in InfluxDB: $(count_points; cat "$work/influx.json")" count_points \
  || { pm_podman logs "${project}_gateway_1" 2>&1 | tail -30; die "no samples in InfluxDB"; }
query 'SELECT last("frequency_hz"), last("active_power_total_kw"), last("energy_import_kwh") FROM "powermonitor_500"' >"$work/last.json"
check "frequency, power and energy in InfluxDB: $(cut -c1-200 "$work/last.json")" \
  python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["results"][0]["series"][0]["values"][0]; sys.exit(0 if 45 < v[1] < 65 and v[2] > 0 and v[3] is not None else 1)' "$work/last.json"
retention=$(query 'SHOW RETENTION POLICIES' | grep -o '"default","[^"]*"' || true)
check "the database's retention is finite ($retention)" test -n "$retention" -a "$retention" != '"default","0s"'

# ---- down: containers and volumes gone ----
t0=$SECONDS
compose down -v -t 10 >>"$work/compose.log" 2>&1 || { tail -20 "$work/compose.log"; die "podman-compose down"; }
check "podman-compose down -v removed the containers ($((SECONDS - t0)) s)" \
  test -z "$(pm_podman ps -a -q --filter "label=io.podman.compose.project=$project")"
check "and the volumes" test -z "$(pm_podman volume ls -q --filter "label=io.podman.compose.project=$project")"
log "PASSED"
