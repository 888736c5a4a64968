#!/usr/bin/env bash
# The README's first command: installs dependencies, builds, and runs the gateway on etc/demo.toml
# (a simulated PowerMonitor 500 on loopback, the local file sink, the status page).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh default pm500-gateway pm500-sim
exec build/default/src/app/pm500-gateway run -c etc/demo.toml "$@"
