# Shared by the bench/*/run.sh scripts that run the whole gateway against pm500-sim; sourced,
# from the repository's root.
#
#   . bench/common.sh
#   bench_binaries "$build"                     # sets $gw and $sim, or exits 2
#   bench_devices 100 127.0.8.1 100 >>"$cfg"    # [[devices]] m0..m99 from 127.0.8.1, RPI 100 ms

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
# (101, 102, 107) at RPI_MS; any further arguments are TOML lines added to every device.
bench_devices() {
  python3 - "$@" <<'PY'
import sys, ipaddress
n, first, rpi = int(sys.argv[1]), ipaddress.ip_address(sys.argv[2]), int(sys.argv[3])
extra = "".join(line + "\n" for line in sys.argv[4:])
for i in range(n):
    print(f'[[devices]]\nname = "m{i}"\naddress = "{first + i}"\nrpi_ms = {rpi}\nassemblies = [101, 102, 107]\n{extra}', end="")
PY
}

# "utime stime" (clock ticks) of a process or thread: bench_cpu_ticks /proc/PID/stat (or .../task/TID/stat).
bench_cpu_ticks() {
  awk '{sub(/.*\) /, ""); print $12, $13}' "$1"
}
