#!/usr/bin/env bash
# Builds a signed RAUC bundle (plain format) of a root slot image.
#   mkbundle.sh ROOTFS.squashfs COMPATIBLE VERSION OUT.raucb
# Keys: OJSCOG_RAUC_KEY/OJSCOG_RAUC_CERT/OJSCOG_RAUC_KEYRING, else the test keys of scripts/image/rauc-keys.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/common.sh"
rootfs=$1 compat=$2 version=$3 out=$4
keys=$("$here/rauc-keys.sh")
key=${OJSCOG_RAUC_KEY:-$keys/signer.key.pem}
cert=${OJSCOG_RAUC_CERT:-$keys/signer.cert.pem}
keyring=${OJSCOG_RAUC_KEYRING:-$keys/keyring.pem}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/content"
cp "$rootfs" "$tmp/content/rootfs.squashfs"
cat > "$tmp/content/manifest.raucm" <<M
[update]
compatible=$compat
version=$version
build=$(date -u +%Y%m%dT%H%M%SZ)

[bundle]
format=plain

[image.rootfs]
filename=rootfs.squashfs
M
rm -f "$out"
rauc bundle --cert "$cert" --key "$key" "$tmp/content" "$out" >/dev/null
rauc info --keyring "$keyring" "$out" >/dev/null 2>&1 || die "rauc info could not verify $out"
log "bundle $out ($(wc -c < "$out") bytes, version $version, verified with rauc info)"
