#!/usr/bin/env bash
# Checks the systemd unit as systemd reads it:
#   1. `systemd-analyze verify`: the unit parses without a single warning (an unknown or
#      misspelt directive is only a warning to systemd, so any output fails here), its
#      commands exist and are executable, its dependencies resolve. It runs against a scratch
#      root holding the unit in etc/systemd/system, the host's own units (targets), the
#      gateway binary at /usr/bin/pm500-gateway and sh (ExecReload), so no installation is
#      needed.
#   2. `systemd-analyze security --offline=true`: the exposure score is at most MAX_EXPOSURE
#      (2.5, "OK"). --offline (systemd 250; Debian 12 has 252) reads the unit file instead of
#      asking a running systemd.
# Usage: packaging/check-unit.sh [GATEWAY_BINARY]   (without one, a stand-in executable)
# Exit 0 passed, 1 failed, 77 skipped (no systemd-analyze; under CI=true that is a failure:
# install the Debian package systemd, listed in scripts/packages.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
unit=$here/pm500-gateway.service
binary=${1:-}
MAX_EXPOSURE=${MAX_EXPOSURE:-2.5}

if ! command -v systemd-analyze >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: systemd-analyze is missing (apt-get install systemd)" >&2
    exit 1
  fi
  echo "SKIP: systemd-analyze is missing (apt-get install systemd)"
  exit 77
fi
systemd-analyze --version | head -1

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
ln -s usr/lib "$root/lib"
ln -s usr/bin "$root/bin"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp /bin/sh "$root/usr/bin/sh"  # ExecReload=/bin/sh -c "kill -HUP $MAINPID"
if [ -n "$binary" ]; then
  cp "$binary" "$root/usr/bin/pm500-gateway"
else
  printf '#!/bin/sh\nexit 0\n' >"$root/usr/bin/pm500-gateway"
  chmod 755 "$root/usr/bin/pm500-gateway"
fi

verify() {  # prints what systemd-analyze said; fails on any output or a non-zero exit
  local out rc=0
  out=$(systemd-analyze verify --root="$root" pm500-gateway.service 2>&1) || rc=$?
  printf '%s' "$out"
  [ $rc -eq 0 ] && [ -z "$out" ]
}

status=0
# The check itself must be able to fail: a misspelt directive is caught.
sed 's/^Type=/Tpye=/' "$unit" >"$root/etc/systemd/system/pm500-gateway.service"
if verify >/dev/null; then
  echo "FAIL: systemd-analyze verify did not notice a misspelt directive; the check proves nothing" >&2
  status=1
fi

cp "$unit" "$root/etc/systemd/system/pm500-gateway.service"
if out=$(verify); then
  echo "ok: systemd-analyze verify: no warnings"
else
  echo "FAIL: systemd-analyze verify packaging/pm500-gateway.service:" >&2
  echo "$out" >&2
  status=1
fi

report=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1) || true
score=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for pm500-gateway.service: \([0-9.]*\) .*/\1/p')
if [ -z "$score" ]; then
  echo "FAIL: no exposure level in the output of systemd-analyze security --offline=true:" >&2
  echo "$report" >&2
  status=1
elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
  echo "ok: systemd-analyze security: exposure $score (at most $MAX_EXPOSURE)"
else
  echo "FAIL: systemd-analyze security: exposure $score is above $MAX_EXPOSURE; what counts against it:" >&2
  printf '%s\n' "$report" | grep '^✗' >&2 || true
  status=1
fi
exit $status
