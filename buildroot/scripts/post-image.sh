#!/usr/bin/env bash
# Buildroot post-image script: $1 = BINARIES_DIR, $2 = board name.
# Builds initrd.img (board/common/mkinitramfs.sh), the factory boot state, disk.img (board/common/genimage.cfg with
# the boot files of board/<board>/meta, through scripts/board.sh) and a signed RAUC bundle of the root slot.
set -euo pipefail
images=$1 board=$2
ext=${BR2_EXTERNAL_OJSCOG_PATH:?}
. "$ext/scripts/lib.sh"
export PATH="$HOST_DIR/bin:$HOST_DIR/sbin:$PATH"
libs=()
for l in ld-linux-aarch64.so.1 libc.so.6 libm.so.6 libresolv.so.2; do
    [ -e "$TARGET_DIR/lib/$l" ] && libs+=(--lib "$TARGET_DIR/lib/$l")
done
# Buildroot kernels have the drivers built in (board/common/linux.fragment): no modules in the initramfs.
"$ext/board/common/mkinitramfs.sh" --busybox "$TARGET_DIR/bin/busybox" --out "$images/initrd.img" "${libs[@]}"
version=$(sed -n 's/^VERSION="\(.*\)"/\1/p' "$TARGET_DIR/etc/ojscog-release")
"$ext/board/common/mkbootstate.sh" "$version" "$images/bootstate.img"
# The data partition's factory marker: first boot formats a partition that starts with it (ojscog-provision-data).
{ printf 'OJSCOG-DATA-BLANK 1\n'; head -c 4076 /dev/zero; } > "$images/data-blank.img"
[ -f "$ext/board/$board/cmdline.txt" ] && cp "$ext/board/$board/cmdline.txt" "$images/cmdline.txt"
rm -rf "$BUILD_DIR/genimage.tmp"
"$ext/scripts/board.sh" "$board" genimage --rootpath "$TARGET_DIR" --tmppath "$BUILD_DIR/genimage.tmp" \
    --inputpath "$images" --outputpath "$images"
compat=$("$ext/scripts/board.sh" "$board" get RAUC_COMPATIBLE)
"$ext/scripts/mkbundle.sh" "$images/rootfs.squashfs" "$compat" "$version" "$images/ojscog-$version.raucb"
