#!/usr/bin/env bash
# Buildroot post-build script: $1 = TARGET_DIR, $2 = board name (BR2_ROOTFS_POST_SCRIPT_ARGS).
# The same finishing step as scripts/build-image.sh (board/common/finalize-rootfs.sh). Everything it uses is in this
# external tree; the release version is the one the ojscog package recorded from its source
# (usr/lib/ojscog/source-version, see package/ojscog/ojscog.mk).
set -euo pipefail
target=$1 board=$2
ext=${BR2_EXTERNAL_OJSCOG_PATH:?}
# RAUC keyring and update channel keys (scripts/keys.sh): OJSCOG_RAUC_KEYRING and OJSCOG_UPDATE_KEYS; with
# OJSCOG_RELEASE=1 the production keys are required (no fallback); otherwise the development keys, kept in the
# user's cache ($OJSCOG_CACHE/rauc-keys, $OJSCOG_CACHE/update-keys), never in the build output.
. "$ext/scripts/lib.sh"
. "$ext/scripts/keys.sh"
rauc_keys
keyring=$RAUC_KEYRING
update_keys
srcver=$(cat "$target/usr/lib/ojscog/source-version" 2>/dev/null) \
    || die "post-build: no $target/usr/lib/ojscog/source-version (installed by the ojscog package)"
"$ext/board/common/finalize-rootfs.sh" "$target" "$board" "$srcver${OJSCOG_RELEASE_TAG:+-$OJSCOG_RELEASE_TAG}" "$keyring" "$UPDATE_KEYS"
# Buildroot's own busybox init files are replaced by the overlay's; its S* scripts are not used.
rm -f "$target"/etc/init.d/S*
