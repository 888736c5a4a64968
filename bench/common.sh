# Shared by the bench/*/run.sh scripts that run the whole gateway against pm500-sim; sourced,
# from the repository's root.
#
#   . bench/common.sh
#   bench_binaries "$build"                     # sets $gw and $sim, or exits 2
#   bench_devices 100 127.0.8.1 100 >>"$cfg"    # [[devices]] m0..m99 from 127.0.8.1, RPI 100 ms
#   bench_mosquitto "$work/mq" 127.0.0.1 18830  # a mosquitto on loopback, in the background
#   bench_pki "$work/pki" 127.0.25.1 thing-1    # CA, server and client certificates (openssl)
#   bench_influxd "$work/influx" 127.0.25.1 8086 pm500  # influxd 1.x with database pm500
#
# Processes started in the background by these functions are jobs of the calling shell, so a
# script's `trap 'kill $(jobs -p)' EXIT` stops them; call them directly, never inside $(...).

# The gateway and simulator executables of a build directory, in $gw and $sim.
bench_binaries() {
  gw="$1/src/app/pm500-gateway"
  sim="$1/tools/pm500-sim/pm500-sim"
  if [ ! -x "$gw" ] || [ ! -x "$sim" ]; then
    echo "build $1 first (cmake --preset release && cmake --build --preset release --target pm500-gateway pm500-sim)" >&2
    exit 2
  fi
}

# [[devices]] tables: COUNT meters named m0.. on consecutive addresses from FIRST, 3 assemblies
# (101, 102, 107) at RPI_MS, with the simulator's CT ratio (400:5, applied by the meter: without
# it every meter's currents are implausible and meter.erratic_readings is raised for each); any
# further arguments are TOML lines added to every device.
bench_devices() {
  python3 - "$@" <<'PY'
import sys, ipaddress
n, first, rpi = int(sys.argv[1]), ipaddress.ip_address(sys.argv[2]), int(sys.argv[3])
extra = "".join(line + "\n" for line in sys.argv[4:])
for i in range(n):
    print(f'[[devices]]\nname = "m{i}"\naddress = "{first + i}"\nrpi_ms = {rpi}\nassemblies = [101, 102, 107]\nct = "400:5"\n{extra}', end="")
PY
}

# "utime stime" (clock ticks) of a process or thread: bench_cpu_ticks /proc/PID/stat (or .../task/TID/stat).
bench_cpu_ticks() {
  awk '{sub(/.*\) /, ""); print $12, $13}' "$1"
}

# Waits (up to 20 s) until ADDR:PORT accepts TCP connections; 1 if it never does.
bench_wait_tcp() {
  local i
  for i in $(seq 100); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.2
  done
  echo "nothing listens on $1:$2" >&2
  return 1
}

# mosquitto in the background: DIR (config and log), listener ADDR PORT, anonymous, no
# persistence; any further arguments are lines added to its configuration (TLS, set_tcp_nodelay).
bench_mosquitto() {
  command -v mosquitto >/dev/null || { echo "needs mosquitto (and mosquitto-clients)" >&2; exit 2; }
  local dir=$1 addr=$2 port=$3
  shift 3
  mkdir -p "$dir"
  {
    printf 'listener %s %s\nallow_anonymous true\npersistence false\n' "$port" "$addr"
    printf 'user %s\n' "$(id -un)"  # as root, stay root: the files are in a private temporary folder
    local line
    for line in "$@"; do printf '%s\n' "$line"; done
  } >"$dir/mosquitto.conf"
  mosquitto -c "$dir/mosquitto.conf" >"$dir/mosquitto.log" 2>&1 &
  bench_wait_tcp "$addr" "$port" || { cat "$dir/mosquitto.log" >&2; exit 1; }
}

# A throw-away PKI made with openssl in DIR: ca.crt, server.crt/.key (CN and SAN for ADDR and
# localhost) and client.crt/.key (CN = CLIENT_CN), EC P-256, valid for a day.
bench_pki() {
  command -v openssl >/dev/null || { echo "needs openssl" >&2; exit 2; }
  local dir=$1 addr=$2 cn=$3 name
  mkdir -p "$dir"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench-ca \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:%s\nextendedKeyUsage=serverAuth\n' "$addr" >"$dir/server.ext"
  printf 'extendedKeyUsage=clientAuth\n' >"$dir/client.ext"
  for name in server client; do
    local subject=/CN=$addr
    [ "$name" = client ] && subject=/CN=$cn
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subject" \
      -keyout "$dir/$name.key" -out "$dir/$name.csr" 2>/dev/null
    openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 1 \
      -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  done
}

# influxd 1.x in the background: DIR (config, data, log), HTTP on ADDR:PORT (its RPC port on
# ADDR:PORT+1), no auth, no self-monitoring; waits for /ping, then creates DATABASE.
bench_influxd() {
  command -v influxd >/dev/null && command -v curl >/dev/null || { echo "needs influxd (1.x) and curl" >&2; exit 2; }
  local dir=$1 addr=$2 port=$3 db=$4 i
  mkdir -p "$dir"
  cat >"$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "$addr:$((port + 1))"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[http]
  bind-address = "$addr:$port"
  log-enabled = false
CONF
  HOME="$dir" influxd run -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 &
  for i in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr:$port/ping")" = 204 ] && break
    sleep 0.2
  done
  curl -sf -XPOST "http://$addr:$port/query" --data-urlencode "q=CREATE DATABASE \"$db\"" >/dev/null ||
    { echo "influxd did not start" >&2; cat "$dir/influxd.log" >&2; exit 1; }
}
