#!/usr/bin/env bash
# Creates (once) the development key pair of the update channel in $OJSCOG_CACHE/update-keys (the user's cache,
# outside any build output), with the `minisign` tool (Debian package minisign), and prints that directory.
#   ojscog-development.pub  baked into development images (/etc/ojscog/update-keys/)
#   ojscog-development.key  unencrypted; signs test channels (`ojscog release index --key ...` or `minisign -S`)
# Never committed, never used for a release: with OJSCOG_RELEASE=1 this refuses to run, and a release build needs
# OJSCOG_UPDATE_KEYS (a directory with the vendor's or journal's public keys; see board/README.md).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "${OJSCOG_RELEASE:-0}" = 1 ] && die "OJSCOG_RELEASE=1: the development update key is not used for a release (set OJSCOG_UPDATE_KEYS)"
dir="$OJSCOG_CACHE/update-keys"
if [ ! -s "$dir/ojscog-development.pub" ] || [ ! -s "$dir/ojscog-development.key" ]; then
    command -v minisign >/dev/null || die "update-keys.sh needs the minisign tool (apt-get install minisign)"
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"
    minisign -G -W -p "$dir/ojscog-development.pub" -s "$dir/ojscog-development.key" >/dev/null
    # The public key's comment names it as what it is: keys.sh and finalize-rootfs.sh refuse it in a release.
    sed -i '1s/.*/untrusted comment: ojscog DEVELOPMENT update key, never in a release/' "$dir/ojscog-development.pub"
    log "created the update channel's development key in $dir"
fi
echo "$dir"
