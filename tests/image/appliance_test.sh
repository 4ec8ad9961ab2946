#!/usr/bin/env bash
# Host-side tests of the appliance scripts (buildroot/rootfs-overlay/, buildroot/board/common/) against loop devices
# and scratch directories; needs root, losetup, partx, sfdisk, e2fsprogs, openssl and busybox (Debian's
# busybox-static: the scripts run under the same BusyBox sh and applets as on the qemu image). No real disk is touched.
# The update group also needs minisign and the host ojscog binary in OJSCOG_HOST_BIN (tests/image/channel_cases.sh).
#   tests/image/appliance_test.sh [GROUP...]     groups: provision bootstate update service   (default: all)
# Prints "ok"/"FAIL" lines and "appliance: N passed, M failed"; exit 1 on failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
top=$(pwd)
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
[ "$(id -u)" = 0 ] || { echo "appliance_test: needs root (losetup)"; exit 1; }
for t in losetup partx sfdisk mke2fs e2fsck resize2fs debugfs openssl busybox mksquashfs; do
    command -v "$t" > /dev/null || { echo "appliance_test: missing $t"; exit 1; }
done
tmp=$(mktemp -d); chmod 0755 "$tmp"   # the service user of the run-service test reads its stand-in binary here
loops=()
cleanup() {
    for m in "$tmp"/*/data; do umount "$m" 2> /dev/null; done
    umount "$tmp"/*/run/update/mnt "$tmp"/*/run/update 2> /dev/null
    sync
    for l in "${loops[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            partx -d "$l" 2> /dev/null; losetup -d "$l" 2> /dev/null && break
            sleep 0.3
        done
        rm -f "$l"p[0-9]*
    done
    rm -rf "$tmp"
}
trap cleanup EXIT; [ -n "${KEEP:-}" ] && trap - EXIT
groups=${*:-provision bootstate update service}
want() { case " $groups " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
export OJSCOG_LIB=$top/buildroot/rootfs-overlay/usr/lib/ojscog
SBIN=$top/buildroot/rootfs-overlay/usr/sbin
LIBEXEC=$top/buildroot/rootfs-overlay/usr/libexec/ojscog

# mkbox NAME DATA_MIB EXTRA_MIB: a scratch "box": a disk image with the appliance's GPT layout (small slots) and
# EXTRA_MIB unpartitioned at the end, on a loop device with partition nodes; sets BOX DISK BOOTSTATE DATA ROOTB.
mkbox() {
    BOX=$tmp/$1
    mkdir -p "$BOX/run" "$BOX/data" "$BOX/etc/rauc"
    : > "$BOX/console"
    local img=$BOX/disk.img
    truncate -s $((1 + 1 + 1 + 8 + 8 + $2 + 1)) "$img"
    truncate -s $(( (1 + 1 + 1 + 8 + 8 + $2 + 1) * 1048576 )) "$img"
    printf 'label: gpt\nsize=1M,type=L,name=boot\nsize=1M,type=L,name=bootstate\nsize=8M,type=L,name=rootA\nsize=8M,type=L,name=rootB\nsize=%sM,type=L,name=data\n' "$2" \
        | sfdisk -q "$img" > /dev/null
    truncate -s $(( (1 + 1 + 1 + 8 + 8 + $2 + 1 + $3) * 1048576 )) "$img"
    DISK=$(losetup -f --show "$img"); loops+=("$DISK")
    partx -a "$DISK" 2> /dev/null
    local n p maj min
    for p in 1 2 3 4 5; do
        n=$(basename "$DISK")p$p
        for _ in $(seq 1 50); do [ -e "/sys/class/block/$n/dev" ] && break; sleep 0.1; done
        IFS=: read -r maj min < "/sys/class/block/$n/dev"
        rm -f "/dev/$n"; mknod "/dev/$n" b "$maj" "$min"
    done
    BOOTSTATE=${DISK}p2 ROOTA=${DISK}p3 ROOTB=${DISK}p4 DATA=${DISK}p5
    printf 'ROOTA=%s\nROOTB=%s\nSTATE=%s\nDATA=%s\n' "$ROOTA" "$ROOTB" "$BOOTSTATE" "$DATA" > "$BOX/run/partitions"
}
# boxenv CMD...: runs CMD with the box's paths.
boxenv() {
    OJSCOG_RUN=$BOX/run OJSCOG_DATA=$BOX/data OJSCOG_ETC=$BOX/etc OJSCOG_CONSOLE=$BOX/console "$@"
}
provision() { boxenv busybox sh "$SBIN/ojscog-provision-data" "$@" > "$BOX/provision.out" 2>&1; }
mounted() { grep -q " $BOX/data " /proc/mounts; }
sectors() { cat "/sys/class/block/$(basename "$1")/size"; }
fs_bytes() { dumpe2fs -h "$1" 2> /dev/null | awk -F: '/^Block count/{c=$2} /^Block size/{s=$2} END{print c*s}'; }
first_mib_sum() { head -c 1048576 "$1" | sha256sum | cut -c1-64; }
prov_record() { OJSCOG_LIB=$OJSCOG_LIB busybox sh -c '. "$OJSCOG_LIB/bootstate.sh"; bs_prov_read "$1" && echo "$PROV_DATE $PROV_ROOT_HASH"' sh "$1"; }

if want provision; then
    # 1. blank card, larger than the image: grown, formatted, secrets on the console only.
    mkbox blank 32 96
    before=$(sectors "$DATA")
    provision; rc=$?
    check "blank data partition: provisioning succeeds (rc $rc)" [ "$rc" = 0 ]
    check "blank data partition: formatted and mounted" mounted
    after=$(sectors "$DATA")
    check "the data partition grows to the end of the card ($before -> $after sectors)" [ "$after" -gt $((before + 90 * 2048)) ]
    fsb=$(fs_bytes "$DATA")
    check "the new file system fills the grown partition ($fsb bytes)" [ "$fsb" -gt $(( (after - 2048) * 512 )) ]
    check "the on-disk partition table has the new size" bash -c "sfdisk --dump $DISK 2>/dev/null | grep -q 'size= *$after,'"
    admin=$(cat "$BOX/data/etc/admin-token" 2> /dev/null)
    read=$(cat "$BOX/data/etc/read-token" 2> /dev/null)
    check "admin and read tokens are made (48 hex digits, different)" bash -c "[[ '$admin' =~ ^[0-9a-f]{48}$ && '$read' =~ ^[0-9a-f]{48}$ && '$admin' != '$read' ]]"
    check "tokens are root:1000 0640" [ "$(stat -c '%u:%g %a' "$BOX/data/etc/admin-token" "$BOX/data/etc/read-token" | sort -u)" = "0:1000 640" ]
    check "both tokens are printed on the console" bash -c "grep -q 'Admin token: *$admin' '$BOX/console' && grep -q 'Read token: *$read' '$BOX/console'"
    check "no admin-token.once is left for the web page" bash -c "! find '$BOX/data' -name '*.once' | grep -q ."
    pw=$(sed -n 's|.*Console login: root / \([0-9a-f]*\).*|\1|p' "$BOX/console")
    rec=$(prov_record "$BOOTSTATE")
    hash=${rec#* }
    salt=$(cut -d'$' -f3 <<< "$hash")
    check "provisioned is recorded in the bootstate partition, outside /data" [ -n "$rec" ]
    check "the console password matches the recorded hash" [ -n "$pw" ] && [ "$(openssl passwd -6 -salt "$salt" "$pw")" = "$hash" ]
    check "/run/ojscog/shadow carries root's hash (0600)" bash -c "grep -qF 'root:$hash:' '$BOX/run/shadow' && [ \$(stat -c %a '$BOX/run/shadow') = 600 ]"
    check "data-state says ok" grep -qx ok "$BOX/run/data-state"
    echo kept > "$BOX/data/marker"
    umount "$BOX/data"; : > "$BOX/console"
    provision; rc=$?
    check "second boot: mounts the same file system, data kept" bash -c "[ $rc = 0 ] && [ \"\$(cat '$BOX/data/marker')\" = kept ]"
    check "second boot: nothing secret is printed again" bash -c "! grep -qi 'token\|login' '$BOX/console'"
    check "second boot: the same root hash" [ "$(prov_record "$BOOTSTATE")" = "$rec" ]
    umount "$BOX/data"

    # 2. provisioned box whose data partition has lost its file system: never formatted.
    dd if=/dev/zero of="$DATA" bs=1M conv=fsync status=none 2> /dev/null   # every superblock, backups too
    : > "$BOX/console"
    provision; rc=$?
    check "provisioned + no ext4 magic: not formatted (rc $rc)" bash -c "[ $rc != 0 ] && [ \"\$(head -c 1048576 '$DATA' | tr -d '\\000' | wc -c)\" = 0 ] && ! grep -q ' $BOX/data ' /proc/mounts"
    check "provisioned + no ext4 magic: reported loudly on the console" grep -q "NOT formatted" "$BOX/console"
    check "provisioned + no ext4 magic: data-state says failed" grep -q '^failed' "$BOX/run/data-state"
    check "provisioned + no ext4 magic: the console keeps the provisioned password" grep -qF "root:$hash:" "$BOX/run/shadow"

    # 3. ext4 whose primary superblock is damaged: repaired from a backup, files kept (box not provisioned yet: the
    #    old script formatted this one).
    mkbox damaged 64 0
    mke2fs -q -F -t ext4 -b 1024 "$DATA"
    mount "$DATA" "$BOX/data" && echo precious > "$BOX/data/keep.txt" && umount "$BOX/data"
    dd if=/dev/zero of="$DATA" bs=1024 seek=1 count=1 conv=notrunc,fsync status=none
    provision; rc=$?
    check "damaged primary superblock: repaired and mounted (rc $rc)" bash -c "[ $rc = 0 ] && grep -q ' $BOX/data ' /proc/mounts"
    check "damaged primary superblock: files kept" bash -c "[ \"\$(cat '$BOX/data/keep.txt' 2>/dev/null)\" = precious ]"
    check "damaged primary superblock: repair reported" grep -q "backup superblock" "$BOX/console"
    umount "$BOX/data"

    # 4. not blank, no file system (garbage), not provisioned: not formatted, reported.
    mkbox garbage 16 0
    head -c 2M /dev/urandom | dd of="$DATA" bs=1M conv=fsync status=none
    sum=$(first_mib_sum "$DATA")
    provision; rc=$?
    check "garbage data partition: not formatted, contents untouched (rc $rc)" bash -c "[ $rc != 0 ] && [ '$(first_mib_sum "$DATA")' = '$sum' ]"
    check "garbage data partition: reported on the console" grep -q "NOT formatted" "$BOX/console"
    check "garbage data partition: a console password for this boot" grep -q "for this boot only" "$BOX/console"

    # 5. the factory marker on a card that held something else before (bmaptool writes only the marker block).
    mkbox marker 16 0
    head -c 16M /dev/urandom | dd of="$DATA" bs=1M conv=fsync status=none 2> /dev/null
    { printf 'OJSCOG-DATA-BLANK 1\n'; head -c $((4096 - 20)) /dev/zero; } | dd of="$DATA" conv=notrunc,fsync status=none
    provision; rc=$?
    check "factory blank marker over old contents: formatted (rc $rc)" bash -c "[ $rc = 0 ] && grep -q ' $BOX/data ' /proc/mounts"
    umount "$BOX/data"

    # 6. unreadable partition (device-mapper error target), where the kernel has device-mapper.
    if modprobe dm-mod 2> /dev/null; [ -e /dev/mapper/control ] || dmsetup version > /dev/null 2>&1; then
        mkbox unreadable 16 0
        name=ojscog-test-$$
        if dmsetup create "$name" --table "0 $(sectors "$DATA") error" 2> /dev/null; then
            sed -i "s|^DATA=.*|DATA=/dev/mapper/$name|" "$BOX/run/partitions"
            provision; rc=$?
            check "unreadable data partition: not formatted, reported (rc $rc)" bash -c "[ $rc != 0 ] && grep -q 'cannot be read' '$BOX/console'"
            dmsetup remove "$name"
        else
            echo "skip unreadable partition: device-mapper not usable here"
        fi
    else
        echo "skip unreadable partition: no device-mapper"
    fi
fi

if want bootstate; then
    mkbox state 4 0
    bs() { OJSCOG_LIB=$OJSCOG_LIB busybox sh -c '. "$OJSCOG_LIB/bootstate.sh"; '"$1" sh "$BOOTSTATE"; }
    slot() { boxenv busybox sh "$SBIN/ojscog-slot" "$@"; }
    echo A > "$BOX/run/booted-slot"
    busybox sh buildroot/board/common/mkbootstate.sh 1.0.0+a "$BOX/factory.img" && dd if="$BOX/factory.img" of="$BOOTSTATE" conv=fsync status=none
    check "the factory state reads back (A first, both confirmed)" [ "$(bs 'bs_read "$1" && echo "$ORDER $A_TRIES $B_TRIES $A_OK $B_OK $A_VERSION"')" = "A B 3 3 1 1 1.0.0+a" ]
    slot activate B 2 1.0.1+b > /dev/null
    check "activate writes a checksummed state (B first, unconfirmed)" [ "$(bs 'bs_read "$1" && echo "$ORDER $B_TRIES $B_OK $B_VERSION"')" = "B A 2 0 1.0.1+b" ]
    check "ojscog-slot confirmed: A yes, B no" bash -c "OJSCOG_RUN=$BOX/run busybox sh $SBIN/ojscog-slot confirmed A && ! OJSCOG_RUN=$BOX/run busybox sh $SBIN/ojscog-slot confirmed B"
    # A flipped byte in copy 1: copy 2 is used.
    printf 'C' | dd of="$BOOTSTATE" bs=1 seek=10 conv=notrunc,fsync status=none
    check "a corrupt first copy: the second copy is used" [ "$(bs 'bs_read "$1" && echo "$ORDER $B_TRIES"')" = "B A 2" ]
    # Both copies corrupt: the defaults (A first), and no code from the partition is run.
    marker=$BOX/pwned
    for blk in 0 1; do
        printf 'OJSCOG-BOOTSTATE 1\nORDER="A B"; touch %s\nA_TRIES=3$(touch %s)\nB_TRIES=3\nA_BAD=0\nB_BAD=0\nA_VERSION="`touch %s`"\nB_VERSION=""\n' "$marker" "$marker" "$marker" \
            | dd of="$BOOTSTATE" bs=4096 seek=$blk count=1 conv=sync,notrunc,fsync status=none
    done
    out=$(bs 'bs_read "$1"; echo "rc=$? $ORDER $A_TRIES $B_TRIES $A_BAD $B_BAD"')
    slot status > /dev/null 2>&1; slot json > /dev/null 2>&1
    check "a state with shell code in it is refused as a whole (defaults: $out)" [ "$out" = "rc=1 A B 3 3 0 0" ]
    check "no code from the state file runs (ojscog-slot, bootstate.sh)" [ ! -e "$marker" ]
    # Legacy v1 state (older initramfs) still reads when every line is well formed.
    bs 'bs_defaults; bs_write "$1"'   # both copies: a valid v2 "A B" state, then block 0 rewritten by an old initramfs
    printf 'OJSCOG-BOOTSTATE 1\nORDER="B A"\nA_TRIES=3\nB_TRIES=1\nA_BAD=0\nB_BAD=0\nA_VERSION="x"\nB_VERSION="y"\n' \
        | dd of="$BOOTSTATE" bs=4096 count=1 conv=sync,notrunc,fsync status=none
    check "a v1 state written by an older initramfs wins over a stale second copy" [ "$(bs 'bs_read "$1" && echo "$ORDER $B_TRIES $B_VERSION"')" = "B A 1 y" ]
    dd if=/dev/zero of="$BOOTSTATE" bs=4096 seek=1 count=1 conv=notrunc,fsync status=none
    check "a well-formed v1 state (older images) is still read" [ "$(bs 'bs_read "$1" && echo "$ORDER $B_TRIES $B_VERSION"')" = "B A 1 y" ]
    slot mark-good > /dev/null
    check "mark-good rewrites it as a checksummed v2 state" bash -c "dd if=$BOOTSTATE bs=4096 count=1 2>/dev/null | tr -d '\\000' | grep -q '^SHA256=[0-9a-f]\{64\}$'"
    check "a version with shell characters is refused by activate" bash -c "! OJSCOG_RUN=$BOX/run busybox sh $SBIN/ojscog-slot activate B 3 '1.0\$(id)' 2>/dev/null"
    check "the initramfs sources the shared parser and evaluates nothing" bash -c "grep -q '/lib/ojscog/bootstate.sh' buildroot/board/common/initramfs/init && ! grep -Eq '^[^#]*\\beval\\b' buildroot/board/common/initramfs/init $SBIN/ojscog-slot $OJSCOG_LIB/bootstate.sh"
    check "the initramfs arms the watchdog before switching root" bash -c "awk '/watchdog -F/{w=NR} /switch_root \\/newroot/{s=NR} END{exit !(w && s && w < s)}' buildroot/board/common/initramfs/init"
fi

if want update; then
    . tests/image/update_cases.sh
    . tests/image/channel_cases.sh
fi
if want service; then
    . tests/image/service_cases.sh
fi

echo "appliance: $pass passed, $fail failed"
[ "$fail" = 0 ]
