#!/usr/bin/env bash
# Builds a signed RAUC bundle (plain format) of a root slot image.
#   mkbundle.sh ROOTFS.squashfs COMPATIBLE VERSION OUT.raucb
# Keys: buildroot/scripts/keys.sh (OJSCOG_RAUC_KEY/OJSCOG_RAUC_CERT/OJSCOG_RAUC_KEYRING; with OJSCOG_RELEASE=1 these are
# required and must not be the development CA; else the development keys of buildroot/scripts/rauc-keys.sh).
# The manifest's build= is the root's BUILD (etc/ojscog-release): ojscog-update orders releases by version, then build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
rootfs=$1 compat=$2 version=$3 out=$4
. "$here/keys.sh"
rauc_keys
key=$RAUC_KEY cert=$RAUC_CERT keyring=$RAUC_KEYRING
build=$(unsquashfs -cat "$rootfs" etc/ojscog-release 2>/dev/null | sed -n 's/^BUILD=//p' | tr -d '"' | head -1)
[ -n "$build" ] || build=$(date -u +%Y%m%dT%H%M%SZ)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/content"
cp "$rootfs" "$tmp/content/rootfs.squashfs"
cat > "$tmp/content/manifest.raucm" <<M
[update]
compatible=$compat
version=$version
build=$build

[bundle]
format=plain

[image.rootfs]
filename=rootfs.squashfs
M
rm -f "$out"
rauc bundle --cert "$cert" --key "$key" "$tmp/content" "$out" >/dev/null
rauc info --keyring "$keyring" "$out" >/dev/null 2>&1 || die "rauc info could not verify $out"
log "bundle $out ($(wc -c < "$out") bytes, version $version, verified with rauc info)"
