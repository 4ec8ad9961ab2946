#!/usr/bin/env bash
# Tests flash.sh against loop devices (needs root and losetup). Never touches a real disk: the only real disk used is
# the system disk, in a check that must refuse before any write (and no --yes is given, so a bug stops at the prompt).
#   tests/image/flash_test.sh [IMAGE]     (default: a small GPT image made here, with a .bmap)
set -uo pipefail
cd "$(dirname "$0")/../.."
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
tmp=$(mktemp -d)
loops=()
cleanup() {
    umount "$tmp/mnt" 2>/dev/null
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
[ "$(id -u)" = 0 ] || { echo "flash_test: needs root (losetup)"; exit 1; }

# expect_refusal NAME PATTERN CMD...: the command must fail and say PATTERN.
expect_refusal() {
    local name=$1 pat=$2; shift 2
    local out rc
    out=$("$@" < /dev/null 2>&1); rc=$?
    if [ $rc -ne 0 ] && grep -q -- "$pat" <<<"$out"; then ok "$name"; else bad "$name (rc $rc): $out"; fi
}

image=${1:-}
if [ -z "$image" ]; then
    image=$tmp/test.img
    truncate -s 64M "$image"
    printf 'label: gpt\n,16M,L,\n,,L,\n' | sfdisk -q "$image" >/dev/null
    # Some content to verify, leaving holes so the bmap path writes only part of it.
    head -c 3M /dev/urandom | dd of="$image" bs=1M seek=2 conv=notrunc status=none
    head -c 1M /dev/urandom | dd of="$image" bs=1M seek=40 conv=notrunc status=none
    command -v bmaptool >/dev/null && bmaptool -q create -o "$tmp/test.bmap" "$image"
fi
isize=$(stat -c %s "$image")
dev=$(losetup -f --show "$(truncate -s $((isize + 8 * 1024 * 1024)) "$tmp/card" && echo "$tmp/card")"); loops+=("$dev")
small=$(losetup -f --show "$(truncate -s 8M "$tmp/small" && echo "$tmp/small")"); loops+=("$small")

expect_refusal "refuses a regular file" "not a block device" ./flash.sh "$image" "$tmp/card" --yes
expect_refusal "refuses a loop device without --allow-non-removable" "not a removable device" ./flash.sh "$image" "$dev" --yes
expect_refusal "refuses without confirmation when not on a terminal" "pass --yes" ./flash.sh "$image" "$dev" --allow-non-removable
expect_refusal "refuses an image larger than the device" "larger than" ./flash.sh "$image" "$small" --allow-non-removable --yes
sysdev=$(awk '$2 == "/" {print $1}' /proc/mounts | tail -1)
sysdisk=$(readlink -f "$sysdev" 2>/dev/null)
if [ -b "$sysdisk" ]; then
    d=$(basename "$sysdisk")
    [ -e "/sys/class/block/$d/partition" ] && d=$(basename "$(readlink -f "/sys/class/block/$d/..")")
    # No --yes: even a broken check would stop at the confirmation.
    expect_refusal "refuses the system disk (/dev/$d)" "holds /" ./flash.sh "$image" "/dev/$d" --allow-non-removable
else
    echo "skip system-disk check: / is on $sysdev (not a block device)"
fi

# Mounted: a file system on a partition of the target (or, where loop partitions are not available, as in some
# sandboxes, on the whole device) is mounted.
printf 'label: gpt\n,,L,\n' | sfdisk -q "$tmp/card" >/dev/null 2>&1
losetup -d "$dev"; loops=("${loops[@]/$dev}")
dev=$(losetup -f --show -P "$tmp/card"); loops+=("$dev")
part=${dev}p1
for _ in $(seq 1 20); do [ -e "/sys/class/block/$(basename "$part")/dev" ] && break; sleep 0.1; done
if [ -e "/sys/class/block/$(basename "$part")/dev" ]; then
    # Without udev nobody creates the partition's node: make it from sysfs.
    if [ ! -b "$part" ]; then
        IFS=: read -r maj min < "/sys/class/block/$(basename "$part")/dev"
        mknod "$part" b "$maj" "$min"
    fi
    target=$part
    expect_refusal "refuses a partition" "is a partition" ./flash.sh "$image" "$part" --allow-non-removable --yes
else
    echo "note: this kernel/sandbox gives loop devices no partitions; the mounted check uses the whole device"
    target=$dev
fi
mkdir -p "$tmp/mnt"
if mkfs.ext4 -q -F "$target" && mount "$target" "$tmp/mnt"; then
    expect_refusal "refuses a device with a mounted file system ($(basename "$target"))" "is mounted" \
        ./flash.sh "$image" "$dev" --allow-non-removable --yes
    umount "$tmp/mnt"
else
    bad "test setup: cannot mount $target"
fi

# Writes and verifies (bmap path when a .bmap is next to the image, else dd).
head -c "$isize" /dev/urandom > "$tmp/card.noise" 2>/dev/null; dd if="$tmp/card.noise" of="$dev" bs=4M conv=fsync status=none; rm -f "$tmp/card.noise"
out=$(OJSCOG_FLASH_ALLOW_NON_REMOVABLE=1 ./flash.sh "$image" "$dev" --yes 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "verified" <<<"$out"; then ok "writes and verifies ($(grep -o 'writing with bmaptool\|verified[^(]*' <<<"$out" | head -2 | tr '\n' ' '))"; else bad "write (rc $rc): $out"; fi
if [ -f "${image%.img}.bmap" ] || [ -f "$image.bmap" ]; then
    # The data written at 2-5 MiB must be on the device; checked independently of flash.sh.
    if cmp -s <(head -c 5M "$image" | tail -c 3M) <(head -c 5M "$dev" | tail -c 3M); then ok "device content matches (mapped area)"; else bad "device content differs"; fi
else
    if cmp -s "$image" <(head -c "$isize" "$dev"); then ok "device content matches the image"; else bad "device content differs"; fi
fi
# dd path, independent of bmaptool.
mv "$tmp/test.bmap" "$tmp/test.bmap.off" 2>/dev/null
out=$(./flash.sh "$image" "$dev" --yes --allow-non-removable 2>&1); rc=$?
if [ $rc -eq 0 ] && grep -q "verified: sha256" <<<"$out"; then ok "dd path writes and verifies the whole image"; else bad "dd path (rc $rc): $out"; fi
echo "flash: $pass passed, $fail failed"
[ "$fail" = 0 ]
