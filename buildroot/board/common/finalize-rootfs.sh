#!/usr/bin/env bash
# Last touches to an assembled root (shared by the Buildroot post-build script and scripts/build-image.sh):
# mount points, /var links into RAM, the RAUC config (rendered from the board's meta by scripts/board.sh) and keyring,
# /etc/ojscog-release (VERSION, BUILD time, KEYS), /etc/shadow -> /run/ojscog/shadow (root's console password,
# installed at boot by ojscog-provision-data).
# The update channel's public keys (every *.pub in UPDATE_KEYS_DIR) go to /etc/ojscog/update-keys/, where the
# service trusts them and config cannot remove them.
#   finalize-rootfs.sh ROOT BOARD VERSION KEYRING UPDATE_KEYS_DIR
# With OJSCOG_RELEASE=1 a development keyring or development update key is refused.
set -euo pipefail
root=$1 board=$2 version=$3 keyring=$4 update_keys=$5
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$root"/{data,mnt,proc,sys,dev,run,tmp,root,etc/rauc,usr/lib/ojscog}
rm -rf "$root/var/log" "$root/var/run" "$root/var/tmp" "$root/var/lock"
mkdir -p "$root/var"
ln -sfn /run/log "$root/var/log"; ln -sfn /run "$root/var/run"; ln -sfn /tmp "$root/var/tmp"; ln -sfn /run/lock "$root/var/lock"
ln -sfn /run/resolv.conf "$root/etc/resolv.conf"
ln -sfn /proc/mounts "$root/etc/mtab"
chmod 0700 "$root/root"
"$here/../../scripts/board.sh" "$board" system.conf "$root/etc/rauc/system.conf"
keys=production
openssl x509 -in "$keyring" -noout -subject 2>/dev/null | grep -q 'ojscog development' && keys=development
if [ "${OJSCOG_RELEASE:-0}" = 1 ] && [ "$keys" = development ]; then
    echo "finalize-rootfs: release build (OJSCOG_RELEASE=1) with the development keyring $keyring" >&2
    exit 1
fi
install -m 0644 "$keyring" "$root/etc/rauc/keyring.pem"
ukeys=production
for f in "$update_keys"/*.pub; do
    [ -f "$f" ] || continue
    head -n 1 "$f" | grep -q DEVELOPMENT && ukeys=development
done
if [ "${OJSCOG_RELEASE:-0}" = 1 ] && [ "$ukeys" = development ]; then
    echo "finalize-rootfs: release build (OJSCOG_RELEASE=1) with the development update key in $update_keys" >&2
    exit 1
fi
rm -rf "$root/etc/ojscog/update-keys"
install -d -m 0755 "$root/etc/ojscog/update-keys"
ls "$update_keys"/*.pub >/dev/null 2>&1 || { echo "finalize-rootfs: no update keys (*.pub) in $update_keys" >&2; exit 1; }
install -m 0644 "$update_keys"/*.pub "$root/etc/ojscog/update-keys/"
# The console password lives outside the read-only root (see ojscog-provision-data).
rm -f "$root/etc/shadow"
ln -s /run/ojscog/shadow "$root/etc/shadow"
compat=$(sed -n 's/^compatible=//p' "$root/etc/rauc/system.conf")
cat > "$root/etc/ojscog-release" <<R
NAME=ojscog
VERSION="$version"
BUILD=$(date -u +%Y%m%dT%H%M%SZ)
KEYS=$keys
UPDATE_KEYS=$ukeys
BOARD=$board
COMPATIBLE=$compat
R
