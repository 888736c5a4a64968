# Shared by packaging/test-image.sh and packaging/test-deb.sh (sourced, not run).
#
# Docker Hub may be unreachable, so the base images the Dockerfile names (debian:12 and
# debian:12-slim) are made here from Debian's own repositories with debootstrap, the way the
# official images are made: a minbase root, and a slim copy of it without documentation, man
# pages and translations. The roots are cached per ISO week under $PM500_CI_CACHE, so a clean
# clone works without the cache and a warm machine does not download Debian again.
#
# Podman keeps its images and build layers under $PM500_CI_CACHE/containers (its own storage,
# vfs driver), apart from any other podman use on the machine; containers, volumes and
# images these scripts create are named pm500-ci-*.

PM500_CI_CACHE=${PM500_CI_CACHE:-/var/cache/pm500-ci}
PM500_CI_MIRROR=${PM500_CI_MIRROR:-http://deb.debian.org/debian}
PM500_CI_SUITE=bookworm
pm500_ci_key=$(date -u +%GW%V)          # ISO year and week: the cached roots last a week

log() { printf '[%s %s] %s\n' "$(date -u +%H:%M:%S)" "${0##*/}" "$*"; }
die() { printf '%s: FAILED: %s\n' "${0##*/}" "$*" >&2; exit 1; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
  log "ok: $what"
}
# The end of a test's EXIT trap: keeps WORK (its logs) when the test failed, else removes it.
pm500_ci_end() {
  local rc=$1 work=$2
  if [ "$rc" -ne 0 ]; then echo "---- logs kept in $work"; else rm -rf "$work"; fi
  exit "$rc"
}
free_port() {  # a free port on 127.0.0.1 (tcp) or 0.0.0.0 (udp)
  python3 -c 'import socket,sys
s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1]=="udp" else socket.SOCK_STREAM)
s.bind(("0.0.0.0" if sys.argv[1]=="udp" else "127.0.0.1", 0)); print(s.getsockname()[1])' "$1"
}
# check DESCRIPTION COMMAND...: fails the test with DESCRIPTION unless COMMAND succeeds.
check() { local what=$1; shift; "$@" || die "$what"; log "ok: $what"; }

# Podman as these machines need it: rootful, vfs storage, runc (crun is refused here).
pm_podman() {
  podman --root "$PM500_CI_CACHE/containers" --runroot /run/pm500-ci-containers \
         --storage-driver vfs --runtime runc "$@"
}

# Skips (or, under CI=true, fails) when not root: podman runs rootful, debootstrap and chroot.
pm500_ci_need_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  [ "${CI:-}" = "true" ] && die "needs root (rootful podman, debootstrap, chroot)"
  printf '%s: SKIPPED: needs root (rootful podman, debootstrap, chroot)\n' "${0##*/}"
  exit 0
}

# Installs the tools the packaging tests need (group "packaging" of scripts/packages.txt).
# Under CI=true a tool that is still missing afterwards fails the test; otherwise it is skipped.
pm500_ci_need_tools() {
  local repo=$1; shift
  "$repo/scripts/install-deps.sh" packaging || true
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null || missing+=("$t"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${CI:-}" = "true" ]; then die "missing tool(s): ${missing[*]}"; fi
  printf '%s: SKIPPED: missing tool(s): %s (CI=true makes this a failure)\n' "${0##*/}" "${missing[*]}"
  exit 0
}

# Prints the path of this week's minbase root tarball (and its slim variant beside it, with
# suffix -slim.tar), debootstrapping them first when absent. Older weeks are removed.
pm500_ci_rootfs() {
  local dir="$PM500_CI_CACHE/rootfs" full slim tmp
  full="$dir/$PM500_CI_SUITE-minbase-$pm500_ci_key.tar"
  slim="${full%.tar}-slim.tar"
  if [ -s "$full" ] && [ -s "$slim" ]; then echo "$full"; return 0; fi
  mkdir -p "$dir"
  tmp=$(mktemp -d "$dir/build.XXXXXX")
  log "debootstrap --variant=minbase $PM500_CI_SUITE from $PM500_CI_MIRROR (cache miss: $full)" >&2
  if ! debootstrap --variant=minbase "$PM500_CI_SUITE" "$tmp/root" "$PM500_CI_MIRROR" >"$tmp/debootstrap.log" 2>&1; then
    tail -20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; die "debootstrap"
  fi
  # What the official images hold: Debian's three suites, no package lists, no host files.
  rm -f "$tmp/root/etc/apt/sources.list"
  cat >"$tmp/root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: ${PM500_CI_MIRROR}
Suites: ${PM500_CI_SUITE} ${PM500_CI_SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${PM500_CI_MIRROR%/debian}/debian-security
Suites: ${PM500_CI_SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  rm -rf "$tmp/root/var/lib/apt/lists/"* "$tmp/root/var/cache/apt/"*.bin "$tmp/root/var/cache/apt/archives/"*.deb \
         "$tmp/root/etc/resolv.conf" "$tmp/root/etc/hostname"
  tar -C "$tmp/root" -cf "$tmp/full.tar" .
  # The slim variant: dpkg leaves out documentation, man pages and translations from now on,
  # and what the root already has of them goes.
  cat >"$tmp/root/etc/dpkg/dpkg.cfg.d/slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
  find "$tmp/root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$tmp/root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$tmp/root/usr/share/man/"* "$tmp/root/usr/share/groff/"* "$tmp/root/usr/share/info/"* \
         "$tmp/root/usr/share/lintian/"* "$tmp/root/usr/share/linda/"*
  find "$tmp/root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  tar -C "$tmp/root" -cf "$tmp/slim.tar" .
  rm -f "$dir/$PM500_CI_SUITE-minbase-"*.tar
  mv "$tmp/full.tar" "$full"; mv "$tmp/slim.tar" "$slim"
  rm -rf "$tmp"
  echo "$full"
}

# Makes debian:12 and debian:12-slim in podman's storage from this week's roots (once a week).
pm500_ci_base_images() {
  local full slim keyfile="$PM500_CI_CACHE/containers.base-key"
  full=$(pm500_ci_rootfs) || exit 1
  slim="${full%.tar}-slim.tar"
  if [ "$(cat "$keyfile" 2>/dev/null)" = "$pm500_ci_key" ] \
     && pm_podman image exists docker.io/library/debian:12 \
     && pm_podman image exists docker.io/library/debian:12-slim; then
    return 0
  fi
  log "importing debian:12 and debian:12-slim ($pm500_ci_key)"
  local id
  id=$(pm_podman import --quiet --change 'CMD ["bash"]' "$full") || die "podman import $full"
  pm_podman tag "$id" docker.io/library/debian:12 debian:12 || die "podman tag"
  id=$(pm_podman import --quiet --change 'CMD ["bash"]' "$slim") || die "podman import $slim"
  pm_podman tag "$id" docker.io/library/debian:12-slim debian:12-slim || die "podman tag"
  # Images of earlier weeks (and the layers built on them) are no longer named: drop them.
  pm_podman image prune -f >/dev/null 2>&1 || true
  echo "$pm500_ci_key" >"$keyfile"
}
