#!/usr/bin/env bash
# Builds the ojscog initramfs (cpio newc, gzip) on the build host, without running target code.
#   mkinitramfs.sh --busybox PATH --modules-dir LIB_MODULES_VERSION_DIR --out FILE [--lib PATH]...
# --busybox: an aarch64 busybox (static, or dynamic with its libraries given as --lib PATH, copied to /lib).
# Used by scripts/build-image.sh and by the Buildroot post-image script.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
busybox= mods= out= libs=()
while [ $# -gt 0 ]; do
    case "$1" in
        --busybox) busybox=$2; shift ;;
        --modules-dir) mods=$2; shift ;;
        --out) out=$2; shift ;;
        --lib) libs+=("$2"); shift ;;
        *) echo "mkinitramfs: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ -x "$busybox" ] && [ -n "$out" ] || { echo "usage: $0 --busybox PATH --modules-dir DIR --out FILE" >&2; exit 2; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp" "$tmp.cpio"' EXIT
mkdir -p "$tmp"/{bin,sbin,dev,proc,sys,newroot,etc,lib/modules}
cp "$busybox" "$tmp/bin/busybox"
for a in sh mount umount insmod sleep cat grep sed dd tr od mkdir echo switch_root reboot printf sha256sum cut watchdog; do
    ln -s busybox "$tmp/bin/$a"
done
for l in "${libs[@]}"; do cp -L "$l" "$tmp/lib/"; done
if [ -n "$mods" ] && [ -d "$mods" ]; then
    python3 "$here/kmods.py" "$mods" "$here/initramfs/modules.list" "$tmp/lib/modules" > "$tmp/etc/modules"
else
    : > "$tmp/etc/modules"   # everything built in (e.g. a Buildroot kernel)
fi
install -m 0755 "$here/initramfs/init" "$tmp/init"
# The boot-state parser is the root's own (one copy of the format).
mkdir -p "$tmp/lib/ojscog"
install -m 0644 "$here/../../rootfs-overlay/usr/lib/ojscog/bootstate.sh" "$tmp/lib/ojscog/bootstate.sh"
# /dev/console and /dev/null must exist before devtmpfs is mounted; cpio gets them from a list, no root needed.
# /dev/console and /dev/null must exist before devtmpfs is mounted. They are added to the cpio stream by a few
# lines of python (newc headers), so no root/mknod is needed on the build host.
(cd "$tmp" && find . -mindepth 1 | LC_ALL=C sort | sed 's|^\./||' | cpio --quiet -o -H newc -R 0:0) > "$tmp.cpio"
python3 - "$tmp.cpio" <<'PY'
import sys
def entry(name, mode, maj=0, mi=0, ino=0):
    n = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (ino, mode, 0, 0, 1, 0, 0, 0, 0, maj, mi, len(n), 0))
    out = hdr.encode() + n
    return out + b"\0" * ((4 - len(out) % 4) % 4)
raw = open(sys.argv[1], "rb").read()
body = raw[:raw.rfind(b"070701")]  # drop the TRAILER!!! entry
body += entry("dev/console", 0o020600, 5, 1, 900001) + entry("dev/null", 0o020666, 1, 3, 900002)
body += entry("TRAILER!!!", 0)
body += b"\0" * ((512 - len(body) % 512) % 512)
open(sys.argv[1], "wb").write(body)
PY
gzip -9 -n < "$tmp.cpio" > "$out"
rm -f "$tmp.cpio"
echo "initramfs: $(wc -c < "$out") bytes, modules: $(tr '\n' ' ' < "$tmp/etc/modules")" >&2
