#!/usr/bin/env bash
# Builds the ojscog disk image for qemu aarch64 "virt" WITHOUT Buildroot, from the same files of the Buildroot external
# tree (buildroot/) as the Buildroot images: the board's meta (buildroot/board/qemu-aarch64-virt/meta), the one layout
# and RAUC template rendered from it (buildroot/scripts/board.sh), rootfs-overlay, finalize-rootfs and the initramfs:
# a read-only squashfs root assembled from extracted Debian arm64 packages (BusyBox, glibc, e2fsprogs, openssl),
# the real aarch64 ojscog binary, Debian's arm64 kernel, a tiny initramfs built on the host. No chroot, no emulation
# of maintainer scripts. Downloads are cached in $OJSCOG_CACHE/debs.
#
#   scripts/build-image.sh [--bin PATH] [--core|--all-features] [--release-tag TAG] [--out DIR] [--release]
#
# --release   a release build (OJSCOG_RELEASE=1): OJSCOG_RAUC_KEY, OJSCOG_RAUC_CERT, OJSCOG_RAUC_KEYRING are required
#             and must not be the development CA (buildroot/scripts/keys.sh); without it development keys are used.
#             OJSCOG_UPDATE_KEYS too: a directory of the update channel's minisign public keys (*.pub), baked into
#             /etc/ojscog/update-keys/; without --release the development key of buildroot/scripts/update-keys.sh.
# --bin       an already built aarch64 ojscog (else scripts/build-aarch64.sh builds one; --core by default here)
# Output (default $OJSCOG_CACHE/image/qemu-aarch64-virt): disk.img, Image, initrd.img, rootfs.squashfs,
# ojscog-<version>.raucb (signed with the test keys of buildroot/scripts/rauc-keys.sh), release.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
. scripts/image/common.sh
ext=buildroot   # the Buildroot external tree: every file of the image comes from there

board=qemu-aarch64-virt
bin=${OJSCOG_AARCH64_BIN:-}
build_mode=--core
tag=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin=$2; shift ;;
        --core|--all-features) build_mode=$1 ;;
        --release-tag) tag=$2; shift ;;
        --out) out=$2; shift ;;
        --release) export OJSCOG_RELEASE=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done
out=${out:-$OJSCOG_CACHE/image/$board}
t0=$(date +%s)

ensure_arm64_arch
ensure_pkgs genimage squashfs-tools dosfstools mtools e2fsprogs cpio rauc openssl qemu-user-static python3 minisign

if [ -z "$bin" ]; then
    bin=$(scripts/build-aarch64.sh "$build_mode" | tail -1)
fi
[ -x "$bin" ] || die "no aarch64 binary at $bin"
libdir="$(dirname "$bin")/lib"

# --- Debian arm64 packages (cached) ------------------------------------------------------------------------
debs="$OJSCOG_CACHE/debs"
mkdir -p "$debs"
kpkg=${OJSCOG_KERNEL_PKG:-}
if [ -z "$kpkg" ]; then
    kpkg=$(apt-cache depends linux-image-arm64:arm64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    if [ -z "$kpkg" ]; then apt_update_once; kpkg=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}'); fi
fi
kpkg=${kpkg%:arm64}
# fdisk (sfdisk) and util-linux (only its resizepart is installed) grow /data to the card on first boot.
# libsonic0 and espeak-ng-data: Piper's phonemizer (the voice feature), linked against sonic, reading espeak-ng's data;
# libasound2 (+ its configuration, libasound2-data): the microphone and speaker, opened at run time.
pkgs=(busybox-static libc6 libgcc-s1 libstdc++6 libgomp1 e2fsprogs libext2fs2 libcom-err2 libblkid1 libuuid1 openssl libssl3
      fdisk libfdisk1 libsmartcols1 libtinfo6 libreadline8 util-linux libsonic0 espeak-ng-data libasound2 libasound2-data
      "$kpkg")
# Architecture-independent packages are downloaded without the :arm64 qualifier (their files end in _all.deb).
arch_all=" libasound2-data "
fetch=()
for p in "${pkgs[@]}"; do
    if [[ "$arch_all" == *" $p "* ]]; then
        ls "$debs/${p}_"*_all.deb >/dev/null 2>&1 || fetch+=("$p")
    else
        ls "$debs/${p}_"*_arm64.deb >/dev/null 2>&1 || fetch+=("$p:arm64")
    fi
done
if [ ${#fetch[@]} -gt 0 ]; then
    log "downloading ${fetch[*]}"
    (cd "$debs" && { apt-get download -q "${fetch[@]}" 2>/dev/null || { apt_update_once; apt-get download -q "${fetch[@]}"; }; }) >&2
fi
deb() { ls -t "$debs/${1}_"*_arm64.deb "$debs/${1}_"*_all.deb 2>/dev/null | head -1; }

work="$OJSCOG_CACHE/image-work/$board"
rm -rf "$work"; mkdir -p "$work/root" "$work/kernel" "$work/bin" "$out"
root="$work/root"

# --- kernel ----------------------------------------------------------------------------------------------------
dpkg-deb -x "$(deb "$kpkg")" "$work/kernel"
kver=$(ls "$work/kernel/lib/modules" | head -1)
cp "$work/kernel/boot/vmlinuz-$kver" "$work/bin/Image"

# --- root --------------------------------------------------------------------------------------------------------
for p in "${pkgs[@]}"; do
    [ "$p" = "$kpkg" ] && continue
    [ "$p" = util-linux ] && continue
    dpkg-deb -x "$(deb "$p")" "$root"
done
# util-linux would replace BusyBox's su, mount, login…: only resizepart (libc only) is taken.
dpkg-deb -x "$(deb util-linux)" "$work/util-linux"
install -m 0755 "$work/util-linux/usr/bin/resizepart" "$root/usr/sbin/resizepart"
rm -f "$root"/sbin/cfdisk "$root"/sbin/fdisk
rm -rf "$root"/usr/share/{doc,man,info,lintian,locale,bug} "$root"/usr/lib/aarch64-linux-gnu/gconv "$root"/usr/share/zoneinfo
# BusyBox applets as symlinks, except where a package already put a real program.
qemu-aarch64-static "$root/bin/busybox" --list-full | while read -r a; do
    n=${a##*/} shadowed=0
    for d in bin sbin usr/bin usr/sbin; do [ -e "$root/$d/$n" ] && shadowed=1; done
    [ "$shadowed" = 1 ] && continue
    mkdir -p "$root/$(dirname "$a")"
    ln -s /bin/busybox "$root/$a"
done
ln -sf /bin/busybox "$root/sbin/init"
cp -a "$ext/rootfs-overlay/." "$root/"
install -m 0755 "$bin" "$root/usr/bin/ojscog"
mkdir -p "$root/usr/lib/ojscog"
if [ -d "$libdir" ] && ls "$libdir"/*.so* >/dev/null 2>&1; then cp -a "$libdir"/*.so* "$root/usr/lib/ojscog/"; fi
# sherpa-onnx's C API and its own ONNX Runtime (voice), apart from ort's: the binary's rpath names this directory.
if [ -d "$libdir/sherpa" ]; then mkdir -p "$root/usr/lib/ojscog/sherpa" && cp -a "$libdir/sherpa/." "$root/usr/lib/ojscog/sherpa/"; fi
. "$ext/scripts/keys.sh"
rauc_keys
update_keys
pkgver=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)
gitrev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo nogit)
binhash=$(sha256sum < "$bin" | cut -c1-8)
version="$pkgver+$gitrev.$binhash${tag:+-$tag}"
"$ext/board/common/finalize-rootfs.sh" "$root" "$board" "$version" "$RAUC_KEYRING" "$UPDATE_KEYS"
echo "KERNEL=$kver" >> "$root/etc/ojscog-release"
compat=$("$ext/scripts/board.sh" "$board" get RAUC_COMPATIBLE)

# --- images ------------------------------------------------------------------------------------------------------
mksquashfs "$root" "$work/bin/rootfs.squashfs" -all-root -noappend -comp zstd -quiet -no-progress >/dev/null
# busybox-static is the initramfs's busybox too.
"$ext/board/common/mkinitramfs.sh" --busybox "$root/bin/busybox" --modules-dir "$work/kernel/lib/modules/$kver" \
    --out "$work/bin/initrd.img" 2>&1 | sed 's/^/  /' >&2
cp "$ext/board/$board/cmdline.txt" "$work/bin/cmdline.txt"
# Factory boot state: slot A first, both slots carry this version.
"$ext/board/common/mkbootstate.sh" "$version" "$work/bin/bootstate.img"
# The data partition's factory marker: first boot formats a partition that starts with it (ojscog-provision-data).
{ printf 'OJSCOG-DATA-BLANK 1\n'; head -c 4076 /dev/zero; } > "$work/bin/data-blank.img"
rm -rf "$work/genimage-tmp" "$work/genimage-root"; mkdir -p "$work/genimage-root"
"$ext/scripts/board.sh" "$board" genimage --inputpath "$work/bin" --outputpath "$work/bin" \
    --tmppath "$work/genimage-tmp" --rootpath "$work/genimage-root" >"$work/genimage.log" 2>&1 \
    || { cat "$work/genimage.log" >&2; die "genimage failed"; }
"$ext/scripts/mkbundle.sh" "$work/bin/rootfs.squashfs" "$compat" "$version" "$work/bin/ojscog-$version.raucb"

rm -f "$out"/*.raucb
for f in disk.img Image initrd.img rootfs.squashfs "ojscog-$version.raucb"; do
    mv -f "$work/bin/$f" "$out/$f"
done
cp "$root/etc/ojscog-release" "$out/release"
# A block map lets flash.sh (bmaptool) write only the used blocks of the sparse image.
rm -f "$out/disk.bmap"
if command -v bmaptool >/dev/null; then bmaptool -q create -o "$out/disk.bmap" "$out/disk.img" 2>/dev/null || rm -f "$out/disk.bmap"; fi
rm -rf "$work"
log "image $out/disk.img: version $version, root $(wc -c < "$out/rootfs.squashfs") bytes, built in $(( $(date +%s) - t0 )) s"
echo "$out"
