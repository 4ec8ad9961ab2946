#!/usr/bin/env bash
# Buildroot post-build script: $1 = TARGET_DIR, $2 = board name (BR2_ROOTFS_POST_SCRIPT_ARGS).
# The same finishing step as scripts/build-image.sh (board/common/finalize-rootfs.sh).
set -euo pipefail
target=$1 board=$2
ext=${BR2_EXTERNAL_OJSCOG_PATH:?}
top=$(cd "$ext/.." && pwd)
# RAUC keyring (scripts/image/keys.sh): OJSCOG_RAUC_KEYRING; with OJSCOG_RELEASE=1 the production keys are required
# (no fallback); otherwise the development keys, kept in the user's cache ($OJSCOG_CACHE/rauc-keys), never in the
# build output.
. "$top/scripts/image/common.sh"
. "$top/scripts/image/keys.sh"
rauc_keys
keyring=$RAUC_KEYRING
version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$top/Cargo.toml" | head -1)
gitrev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo nogit)
"$top/board/common/finalize-rootfs.sh" "$target" "$board" "$version+$gitrev${OJSCOG_RELEASE_TAG:+-$OJSCOG_RELEASE_TAG}" "$keyring"
# Buildroot's own busybox init files are replaced by the overlay's; its S* scripts are not used.
rm -f "$target"/etc/init.d/S*
