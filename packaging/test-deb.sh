#!/usr/bin/env bash
# Installs the .deb on a clean Debian 12 (a debootstrap minbase root, entered with chroot) as an
# administrator does, and checks the maintainer scripts: install (every dependency resolved by
# apt, --version, `check --offline` of the installed configuration as root and as the service
# user, user and folders with their modes), postinst run again and reinstall (idempotent: same
# user, the edited configuration untouched), remove (configuration and state stay), install
# again, purge (configuration and state gone).
#   packaging/test-deb.sh [FILE.deb]     default: the newest in $PM500_PKG_OUT, which
#                                        packaging/test-image.sh fills from the image's build stage
# Needs root and Debian's package mirror (apt-get in the root).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/packaging/test-lib.sh"
pm500_ci_need_root
pm500_ci_need_tools "$repo" debootstrap dpkg-deb
out=${PM500_PKG_OUT:-$repo/build/packaging}
deb=${1:-$(ls -t "$out"/pm500-gateway_*.deb 2>/dev/null | head -1)}
[ -n "$deb" ] && [ -f "$deb" ] || die "no .deb given and none in $out (run packaging/test-image.sh first)"
debname=${deb##*/}

tarball=$(pm500_ci_rootfs)
root=$(mktemp -d /var/tmp/pm500-ci-deb.XXXXXX)
cleanup() {
  local rc=$?
  set +e
  mountpoint -q "$root/proc" && umount "$root/proc"
  mountpoint -q "$root/proc" || rm -rf --one-file-system "$root"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
tar -C "$root" -xf "$tarball"
mount -t proc proc "$root/proc"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/tmp/$debname"
in_root() {
  chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
as_service() { in_root setpriv --reuid pm500 --regid pm500 --init-groups "$@"; }
check() { local what=$1; shift; "$@" || die "$what"; log "ok: $what"; }
stat_is() { [ "$(in_root stat -c '%a %U:%G' "$2")" = "$1" ] || { in_root stat -c '%a %U:%G %n' "$2"; return 1; }; }
quiet() { "$@" >"$root/tmp/out.log" 2>&1 || { cat "$root/tmp/out.log"; return 1; }; }
cfg=/etc/pm500-gateway/gateway.toml

log "clean Debian 12 minbase root ($(basename "$tarball")), installing $debname"
check "apt-get update in the root" quiet in_root apt-get update
check "apt-get install ./$debname resolves every dependency" \
  quiet in_root apt-get install -y --no-install-recommends "/tmp/$debname"
check "dpkg: installed" sh -c "chroot '$root' dpkg-query -W -f='\${Status}' pm500-gateway | grep -q 'install ok installed'"
check "depends on ca-certificates (and its store is there)" sh -c \
  "chroot '$root' dpkg-query -W -f='\${Depends}' pm500-gateway | grep -q ca-certificates && test -s '$root/etc/ssl/certs/ca-certificates.crt'"
version=$(in_root pm500-gateway --version)
check "pm500-gateway --version: $version" test -n "$version"
check "pm500-sim runs (--help)" quiet in_root pm500-sim --help
check "check --offline of the installed configuration (root)" quiet in_root pm500-gateway check --offline -c $cfg
check "check --offline as the service user" quiet as_service pm500-gateway check --offline -c $cfg
check "user pm500 is a system user" sh -c "uid=\$(chroot '$root' id -u pm500) && [ \$uid -gt 0 ] && [ \$uid -lt 1000 ]"
check "configuration 0640 root:pm500" stat_is "640 root:pm500" $cfg
check "/etc/pm500-gateway 0750 root:pm500" stat_is "750 root:pm500" /etc/pm500-gateway
check "/var/lib/pm500-gateway 0750 pm500:pm500" stat_is "750 pm500:pm500" /var/lib/pm500-gateway
check "the unit and the example are installed" test -f "$root/lib/systemd/system/pm500-gateway.service" \
  -a -f "$root/usr/share/pm500-gateway/examples/gateway.example.toml"

# Idempotent: postinst again, then a reinstall, keep the user and the edited configuration.
uid=$(in_root id -u pm500)
echo '# edited by the administrator' >>"$root$cfg"
sum=$(md5sum <"$root$cfg")
echo spooled >"$root/var/lib/pm500-gateway/marker"
check "postinst configure, run again" quiet in_root /var/lib/dpkg/info/pm500-gateway.postinst configure "${version##* }"
check "apt-get install --reinstall" quiet in_root apt-get install -y --reinstall "/tmp/$debname"
check "same user, configuration untouched" test "$(in_root id -u pm500)" = "$uid" -a "$(md5sum <"$root$cfg")" = "$sum"
check "configuration still 0640 root:pm500" stat_is "640 root:pm500" $cfg

# remove keeps configuration and state; purge deletes them.
check "apt-get remove" quiet in_root apt-get remove -y pm500-gateway
check "binaries gone" test ! -e "$root/usr/bin/pm500-gateway" -a ! -e "$root/lib/systemd/system/pm500-gateway.service"
check "configuration and state kept after remove" test "$(md5sum <"$root$cfg")" = "$sum" -a -f "$root/var/lib/pm500-gateway/marker"
check "install again after remove" quiet in_root apt-get install -y --no-install-recommends "/tmp/$debname"
check "the kept configuration is used, and passes" test "$(md5sum <"$root$cfg")" = "$sum"
check "check --offline after reinstall" quiet as_service pm500-gateway check --offline -c $cfg
check "apt-get purge" quiet in_root apt-get purge -y pm500-gateway
check "configuration and state gone after purge" test ! -e "$root/etc/pm500-gateway" -a ! -e "$root/var/lib/pm500-gateway"
check "dpkg: not installed after purge" sh -c "! chroot '$root' dpkg-query -W -f='\${Status}' pm500-gateway 2>/dev/null | grep -q 'ok'"
check "install after purge (user kept, as Debian does)" quiet in_root apt-get install -y --no-install-recommends "/tmp/$debname"
check "a fresh configuration 0640 root:pm500 after purge and install" stat_is "640 root:pm500" $cfg
log "PASSED"
