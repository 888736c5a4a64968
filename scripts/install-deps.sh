#!/usr/bin/env bash
# Installs the Debian 12 packages listed in scripts/packages.txt. Idempotent; quiet when all
# are present. Needs root (or sudo).
#   scripts/install-deps.sh              every group except [packaging]
#   scripts/install-deps.sh GROUP...     only the groups named (e.g. build libraries)
#   scripts/install-deps.sh --list [GROUP...]   print the packages instead
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
list_only=0
[ "${1:-}" = "--list" ] && { list_only=1; shift; }
groups=" $* "

# Packages of the wanted groups: "[name]" starts a group; comments and blank lines are ignored.
list=$(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^[[:space:]]*$/d' "$here/packages.txt" |
  awk -v groups="$groups" '
    /^\[.*\]$/ { g = substr($0, 2, length($0) - 2); known[g] = 1; next }
    { want = (groups ~ /^ *$/) ? (g != "packaging") : index(groups, " " g " ") > 0 }
    want { print $1 }
    END { n = split(groups, asked, " "); for (i = 1; i <= n; i++)
            if (!(asked[i] in known)) { print "install-deps: no group [" asked[i] "] in packages.txt" > "/dev/stderr"; exit 1 } }')
mapfile -t pkgs <<<"$list"
[ -n "$list" ] || pkgs=()
[ "$list_only" = 1 ] && { printf '%s\n' "${pkgs[@]}"; exit 0; }

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
${sudo:+$sudo -E} apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
