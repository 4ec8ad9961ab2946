#!/usr/bin/env bash
# Writes an ojscog image to an SD card, safely.
#
#   ./flash.sh IMAGE DEVICE [--yes] [--no-verify]
#   ./flash.sh ~/.cache/ojscog/image/qemu-aarch64-virt/disk.img /dev/sdX
#
# Refuses: anything that is not a whole block device; devices the kernel does not call removable (an SD card in a
# USB reader or the built-in slot is removable; an internal disk is not); the disk holding / or /boot; any device with
# a mounted partition (unmount it first); an image larger than the device. Shows the device's model and size and asks
# for "yes" (--yes skips the question, for scripts). Writes with bmaptool when a .bmap file sits next to the image
# (only the used blocks), else dd with progress; syncs, then reads the written range back and compares checksums.
#
# For tests only: OJSCOG_FLASH_ALLOW_NON_REMOVABLE=1 (or --allow-non-removable) lets a non-removable device such as
# a loop device through. The system-disk and mounted-device checks still apply.
set -euo pipefail
usage() { sed -n '2,15p' "$0" >&2; exit 2; }
die() { echo "flash.sh: $*" >&2; exit 1; }

yes=0 verify=1 allow_nonrem=${OJSCOG_FLASH_ALLOW_NON_REMOVABLE:-0}
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --yes|-y) yes=1 ;;
        --no-verify) verify=0 ;;
        --allow-non-removable) allow_nonrem=1 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) args+=("$1") ;;
    esac
    shift
done
[ ${#args[@]} -eq 2 ] || usage
image=${args[0]} dev=${args[1]}

[ -f "$image" ] || die "no image file $image"
[ -b "$dev" ] || die "$dev is not a block device"
real=$(readlink -f "$dev")
name=$(basename "$real")
sys=/sys/class/block/$name
[ -d "$sys" ] || die "$dev is not known to the kernel"
[ -e "$sys/partition" ] && die "$dev is a partition; give the whole device (e.g. /dev/sdb, /dev/mmcblk0)"

removable=$(cat "$sys/removable" 2>/dev/null || echo 0)
# SD cards in the built-in slot (mmcblk) report removable=0 on some kernels: trust the MMC bus type instead.
case "$name" in mmcblk*) [ "$(cat "$sys/device/type" 2>/dev/null)" = SD ] && removable=1 ;; esac
if [ "$removable" != 1 ]; then
    [ "$allow_nonrem" = 1 ] || die "$dev is not a removable device (refusing; an SD card reader reports removable=1)"
    echo "flash.sh: $dev is not removable; allowed by --allow-non-removable (tests only)" >&2
fi

# The devices behind a mount point (resolving partitions, dm/LVM/RAID holders) -> their whole disks.
disks_of() {
    local src=$1 d
    src=$(readlink -f "$src" 2>/dev/null) || return 0
    [ -b "$src" ] || return 0
    d=$(basename "$src")
    if [ -e "/sys/class/block/$d/partition" ]; then
        basename "$(readlink -f "/sys/class/block/$d/..")"
    else
        echo "$d"
    fi
    for s in /sys/class/block/"$d"/slaves/*; do
        [ -e "$s" ] && disks_of "/dev/$(basename "$s")"
    done
}
for mp in / /boot /boot/efi /usr /var /home; do
    src=$(awk -v m="$mp" '$2 == m {print $1}' /proc/mounts | tail -1)
    [ -n "$src" ] || continue
    for d in $(disks_of "$src"); do
        [ "$d" = "$name" ] && die "$dev holds $mp of this system (refusing)"
    done
done
swaps=$(awk 'NR>1 {print $1}' /proc/swaps)
for p in "/dev/$name" /sys/class/block/"$name"/"$name"*; do
    pn=$(basename "$p")
    if awk -v a="/dev/$pn" '$1 == a {f=1} END {exit !f}' /proc/mounts; then
        die "/dev/$pn is mounted (unmount it first)"
    fi
    for s in $swaps; do [ "$(readlink -f "$s")" = "/dev/$pn" ] && die "/dev/$pn is in use as swap"; done
    for h in /sys/class/block/"$pn"/holders/*; do [ -e "$h" ] && die "/dev/$pn is in use by $(basename "$h")"; done
done

size=$(( $(cat "$sys/size") * 512 ))
isize=$(stat -c %s "$image")
[ "$size" -gt 0 ] || die "$dev has no medium"
[ "$isize" -le "$size" ] || die "the image ($isize bytes) is larger than $dev ($size bytes)"
model=$(cat "$sys/device/model" 2>/dev/null | sed 's/ *$//' || true)
vendor=$(cat "$sys/device/vendor" 2>/dev/null | sed 's/ *$//' || true)
[ -n "$model$vendor" ] || model=$( [ -f "$sys/loop/backing_file" ] && echo "loop device on $(cat "$sys/loop/backing_file")" || echo "unknown model")
human() { awk -v b="$1" 'BEGIN { split("B KB MB GB TB", u); i=1; while (b >= 1000 && i < 5) { b /= 1000; i++ } printf "%.1f %s", b, u[i] }'; }

echo "Image:  $image ($(human "$isize"))"
echo "Device: $dev = /dev/$name, ${vendor:+$vendor }$model, $(human "$size")"
echo "Everything on /dev/$name will be overwritten."
if [ "$yes" != 1 ]; then
    [ -t 0 ] || die "not a terminal: pass --yes to confirm non-interactively"
    read -r -p 'Type "yes" to write: ' answer
    [ "$answer" = yes ] || die "not confirmed"
fi

start=$(date +%s)
used_bmap=0
bmap="${image%.img}.bmap"; [ -f "$bmap" ] || bmap="$image.bmap"
if command -v bmaptool >/dev/null && [ -f "$bmap" ]; then
    echo "writing with bmaptool ($bmap)"
    bmaptool copy --bmap "$bmap" "$image" "/dev/$name"
    used_bmap=1
else
    dd if="$image" of="/dev/$name" bs=4M conv=fsync oflag=direct status=progress
fi
sync
echo "written in $(( $(date +%s) - start )) s"

if [ "$verify" = 1 ]; then
    # Drop cached pages so the read really comes from the card.
    blockdev --flushbufs "/dev/$name" 2>/dev/null || true
    echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
    if [ "$used_bmap" = 1 ]; then
        # bmaptool wrote only the mapped ranges; the rest of the card is not part of the image's content.
        echo "verifying the mapped ranges (reading back)"
        python3 - "$image" "/dev/$name" "$bmap" <<'PY' || die "verification FAILED: the device does not read back what was written"
import hashlib, re, sys
img, dev, bmap = sys.argv[1:]
x = open(bmap).read()
bs = int(re.search(r"<BlockSize>\s*(\d+)", x).group(1))
with open(img, "rb") as a, open(dev, "rb") as b:
    for m in re.finditer(r"<Range[^>]*>\s*([\d]+)(?:-(\d+))?\s*</Range>", x):
        first = int(m.group(1)); last = int(m.group(2) or first)
        a.seek(first * bs); b.seek(first * bs)
        n = (last - first + 1) * bs
        while n > 0:
            k = min(n, 4 << 20)
            if a.read(k) != b.read(k):
                print("mismatch in blocks %d-%d" % (first, last)); sys.exit(1)
            n -= k
PY
        echo "verified: every mapped block reads back"
    else
        echo "verifying (reading back $(human "$isize"))"
        want=$(sha256sum < "$image" | cut -d' ' -f1)
        got=$(head -c "$isize" "/dev/$name" | sha256sum | cut -d' ' -f1)
        [ "$want" = "$got" ] || die "verification FAILED: the device does not read back what was written"
        echo "verified: sha256 $want"
    fi
fi
echo "done: you can remove the card"
