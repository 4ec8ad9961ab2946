#!/usr/bin/env bash
# Last touches to an assembled root (shared by the Buildroot post-build script and scripts/build-image.sh):
# mount points, /var links into RAM, the RAUC config and keyring, /etc/ojscog-release.
#   finalize-rootfs.sh ROOT BOARD VERSION KEYRING
set -euo pipefail
root=$1 board=$2 version=$3 keyring=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$root"/{data,mnt,proc,sys,dev,run,tmp,root,etc/rauc,usr/lib/ojscog}
rm -rf "$root/var/log" "$root/var/run" "$root/var/tmp" "$root/var/lock"
mkdir -p "$root/var"
ln -sfn /run/log "$root/var/log"; ln -sfn /run "$root/var/run"; ln -sfn /tmp "$root/var/tmp"; ln -sfn /run/lock "$root/var/lock"
ln -sfn /run/resolv.conf "$root/etc/resolv.conf"
ln -sfn /proc/mounts "$root/etc/mtab"
chmod 0700 "$root/root"
install -m 0644 "$here/../$board/rauc/system.conf" "$root/etc/rauc/system.conf"
install -m 0644 "$keyring" "$root/etc/rauc/keyring.pem"
compat=$(sed -n 's/^compatible=//p' "$root/etc/rauc/system.conf")
cat > "$root/etc/ojscog-release" <<R
NAME=ojscog
VERSION="$version"
BOARD=$board
COMPATIBLE=$compat
R
