#!/usr/bin/env bash
# Image test: builds the aarch64 binary (if needed) and the qemu image, then boots it under qemu-system-aarch64 and
# checks first-boot provisioning, read-only root, writable /data kept across reboots, a signed OTA into slot B and
# the automatic fallback from a release that never gets healthy. Prints boot-to-ready times.
#
#   scripts/test-image.sh                    # core binary (no optional features)
#   OJSCOG_IMAGE_BUILD=--all-features scripts/test-image.sh
#   OJSCOG_AARCH64_BIN=/path/to/ojscog scripts/test-image.sh   # use a prebuilt aarch64 binary
#
# Everything network-facing stays on 127.0.0.1 (qemu user networking with restrict=on, hostfwd to 127.0.0.1 only).
# Output lines "ok   ..." / "FAIL ..." and a final "image: N passed, M failed" line; exit status 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh
t0=$(date +%s)

if ! command -v qemu-system-aarch64 >/dev/null; then
    # The machine's qemu-utils come from bookworm-backports; bookworm's own qemu-system-arm conflicts with them.
    if dpkg-query -W -f='${Version}' qemu-utils 2>/dev/null | grep -q bpo; then
        ensure_backports
        ensure_pkgs -t bookworm-backports qemu-system-arm
    else
        ensure_pkgs qemu-system-arm
    fi
fi
ensure_pkgs python3 e2fsprogs squashfs-tools genimage dosfstools mtools fdisk bmap-tools busybox-static openssl util-linux cpio socat minisign

# Static checks of the Buildroot external tree (buildroot/: board/, rootfs-overlay/, scripts/) and the scripts;
# flash.sh and the appliance scripts (provisioning, boot state, updates, service start, healthwatch) against loop
# devices.
mkdir -p "$OJSCOG_CACHE"
# The host binary: the channel cases of the appliance test publish and import a signed channel with it, and the
# boot test's channel is indexed and signed by it.
host_bin="${CARGO_TARGET_DIR:-target}/debug/ojscog"
[ -x "$host_bin" ] || cargo build --bin ojscog >&2
export OJSCOG_HOST_BIN=$(realpath "$host_bin")
static_rc=0
python3 tests/image/check_tree.py > "$OJSCOG_CACHE/check-tree.out" 2>&1 || static_rc=1
grep -E '^(FAIL|tree:)' "$OJSCOG_CACHE/check-tree.out" || true
tests/image/flash_test.sh > "$OJSCOG_CACHE/flash-test.out" 2>&1 || static_rc=1
grep -E '^(FAIL|flash:|note)' "$OJSCOG_CACHE/flash-test.out" || true
tests/image/appliance_test.sh > "$OJSCOG_CACHE/appliance-test.out" 2>&1 || static_rc=1
grep -E '^(FAIL|appliance:|skip)' "$OJSCOG_CACHE/appliance-test.out" || true

bin=${OJSCOG_AARCH64_BIN:-}
if [ -z "$bin" ]; then
    bin=$(scripts/build-aarch64.sh ${OJSCOG_IMAGE_BUILD:---core} | tail -1)
fi
t_bin=$(date +%s)
img=$(scripts/build-image.sh --bin "$bin" | tail -1)
t_img=$(date +%s)
# The OTA release: the same binary in a root that says it is another release.
ota=$(scripts/build-image.sh --bin "$bin" --release-tag ota --out "$OJSCOG_CACHE/image/qemu-aarch64-virt-ota" | tail -1)
ota_bundle=$(ls "$ota"/*.raucb)
ota_version=$(sed -n 's/^VERSION="\(.*\)"/\1/p' "$ota/release")
# A release whose service never starts: for the fallback check.
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
unsquashfs -q -d "$tmp/root" "$ota/rootfs.squashfs" >/dev/null
printf '#!/bin/sh\necho "deliberately broken release" >&2\nexit 1\n' > "$tmp/root/usr/bin/ojscog"
chmod 0755 "$tmp/root/usr/bin/ojscog"
sed -i 's/^VERSION="\(.*\)"/VERSION="\1-broken"/' "$tmp/root/etc/ojscog-release"
# A later build than the OTA release (ojscog-update refuses anything not newer than the running release).
sed -i "s/^BUILD=.*/BUILD=$(date -u +%Y%m%dT%H%M%SZ)/" "$tmp/root/etc/ojscog-release"
mksquashfs "$tmp/root" "$tmp/broken.squashfs" -all-root -noappend -comp zstd -quiet -no-progress >/dev/null
compat=$(buildroot/scripts/board.sh qemu-aarch64-virt get RAUC_COMPATIBLE)
buildroot/scripts/mkbundle.sh "$tmp/broken.squashfs" "$compat" "$ota_version-broken" "$tmp/broken.raucb"
# A release that hangs before its health watcher starts (rcS never returns): the watchdog armed by the initramfs
# must reset it and the boot counter fall back. Built after the broken one, so it is newer still.
sleep 1
printf '#!/bin/sh\necho "deliberately hanging release" > /dev/console\nwhile :; do sleep 3600; done\n' > "$tmp/root/etc/init.d/rcS"
chmod 0755 "$tmp/root/etc/init.d/rcS"
sed -i 's/^VERSION="\(.*\)-broken"/VERSION="\1-hang"/' "$tmp/root/etc/ojscog-release"
sed -i "s/^BUILD=.*/BUILD=$(date -u +%Y%m%dT%H%M%SZ)/" "$tmp/root/etc/ojscog-release"
mksquashfs "$tmp/root" "$tmp/hang.squashfs" -all-root -noappend -comp zstd -quiet -no-progress >/dev/null
buildroot/scripts/mkbundle.sh "$tmp/hang.squashfs" "$compat" "$ota_version-hang" "$tmp/hang.raucb"
# The OTA release is also published as an update channel, signed with the development update key that
# build-image.sh baked into the image (/etc/ojscog/update-keys/), which the guest pulls through a forwarded port:
# the same path a box takes from a vendor's server.
ukeys=$(buildroot/scripts/update-keys.sh)
mkdir -p "$tmp/channel/system/ojscog-qemu/$ota_version"
cp "$ota_bundle" "$tmp/channel/system/ojscog-qemu/$ota_version/ota.raucb"
"$host_bin" release index "$tmp/channel" --key "$ukeys/ojscog-development.key" >/dev/null
# Voice in the booted image (when the binary has the voice feature): the speech models (arch-independent ONNX files,
# copied from the developers' store with their manifests) and a spoken command, on the update disk.
voice_args=()
if [[ "${OJSCOG_IMAGE_BUILD:-}" == *all-features* || "${OJSCOG_IMAGE_BUILD:-}" == *voice* ]]; then
    vd="$tmp/voice"
    store="${OJSCOG_TEST_MODELS:-$OJSCOG_CACHE/models}"
    for m in whisper-tiny-en silero-vad; do
        v=$(readlink "$store/$m/current") || die "voice model $m not installed in $store: run scripts/fetch-models.sh"
        mkdir -p "$vd/models/$m"
        cp -r "$store/$m/$v" "$vd/models/$m/"
        ln -s "$v" "$vd/models/$m/current"
    done
    ts=$(bash scripts/voice/testset.sh)
    f=$(awk -F'\t' '$3 ~ /^piper-joe-x[0-9.]+$/ && $6 == "What is overdue?" { print $1; exit }' "$ts/manifest.tsv")
    [ -n "$f" ] || die "no clean Piper 'overdue' utterance in $ts/manifest.tsv"
    cp "$ts/$f" "$vd/command.wav"
    # The same command as a microphone would give it (16 kHz mono 16-bit raw, then a second of quiet) for push-to-talk.
    sox "$vd/command.wav" -r 16000 -c 1 -b 16 -e signed-integer -t raw "$vd/command.raw" pad 0 1
    # Vision: the two detectors (arch-independent NCNN and ONNX files) beside the speech models, pdfium for aarch64
    # (the pypdfium2 wheel and sha256 scripts/fetch-models.sh pins), and a drawn page with a figure and a table.
    for m in layout-cdla ppocrv4-det; do
        v=$(readlink "$store/$m/current") || die "vision model $m not installed in $store: run scripts/fetch-models.sh"
        mkdir -p "$vd/models/$m"
        cp -r "$store/$m/$v" "$vd/models/$m/"
        ln -s "$v" "$vd/models/$m/current"
    done
    pdfium_sha=$(sed -n 's/^    aarch64) PDFIUM_SHA="\(.*\)" ;;/\1/p' scripts/fetch-models.sh)
    pdfium_pkg=$(sed -n 's/^PDFIUM_PKG="\(.*\)"/\1/p' scripts/fetch-models.sh)
    pdl="$OJSCOG_CACHE/downloads/${pdfium_pkg//==/-}-aarch64"
    if ! ls "$pdl"/*.whl >/dev/null 2>&1; then
        mkdir -p "$pdl"
        python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_17_aarch64 \
            --python-version 3.11 --implementation cp -d "$pdl" "$pdfium_pkg" >&2
    fi
    rm -rf "$tmp/pdfium" && unzip -q -o "$(ls "$pdl"/*.whl | head -1)" pypdfium2_raw/libpdfium.so -d "$tmp/pdfium"
    # The harness's own OJSCOG_* variables are not the binary's config: none are passed.
    # shellcheck disable=SC2046
    env $(env | sed -n 's/^\(OJSCOG_[A-Z0-9_]*\)=.*/-u \1/p') "$host_bin" models --dir "$vd/models" install pdfium "8149-aarch64" --source "pypi:$pdfium_pkg (aarch64)" \
        --file "libpdfium.so=$tmp/pdfium/pypdfium2_raw/libpdfium.so" --sha256 "libpdfium.so=$pdfium_sha" >/dev/null
    pages=$(bash scripts/vision/pages.sh)
    pg=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1]+"/manifest.json"))
print(next(p["page"] for p in m["pages"] if not p["rotated"] and not p["scanned"]
      and {"figure","table"} <= {e["kind"] for e in p["elements"]}))' "$pages")
    cp "$pages/$pg.pdf" "$vd/page.pdf"
    voice_args=(--voice-dir "$vd")
fi
t_build=$(date +%s)

artifacts="${CARGO_TARGET_DIR:-target}/artifacts"
mkdir -p "$artifacts"
work="$OJSCOG_CACHE/boot-test"
rm -rf "$work"
set +e
python3 scripts/image/boot_test.py --image-dir "$img" --cmdline buildroot/board/qemu-aarch64-virt/cmdline.txt \
    --ota-bundle "$ota_bundle" --ota-version "$ota_version" --broken-bundle "$tmp/broken.raucb" --hang-bundle "$tmp/hang.raucb" \
    --channel-dir "$tmp/channel" --channel-key "$ukeys/ojscog-development.pub" "${voice_args[@]}" \
    --work "$work" --report "$artifacts/image-boot.json" | tee "$work.out"
rc=${PIPESTATUS[0]}
set -e
cp "$work"/*.console.log "$artifacts/" 2>/dev/null || true
t_end=$(date +%s)
outs=("$work.out" "$OJSCOG_CACHE/check-tree.out" "$OJSCOG_CACHE/flash-test.out" "$OJSCOG_CACHE/appliance-test.out")
passed=$(cat "${outs[@]}" | grep -c '^ok ' || true)
failed=$(cat "${outs[@]}" | grep -c '^FAIL' || true)
echo "image: binary $((t_bin - t0)) s, image build $((t_img - t_bin)) s, all builds $((t_build - t0)) s, boot tests $((t_end - t_build)) s, total $((t_end - t0)) s"
python3 - "$artifacts/image-boot.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("image: boot-to-ready (qemu start -> /health 200, TCG cortex-a53 x2, 1 GiB): first boot %s s, later boots %s s (guest uptime %s s)"
      % (r.get("first_boot_to_ready_s"), r.get("boot_to_ready_s"), r.get("uptime_to_ready_s")))
PY
echo "image: $passed passed, $failed failed"
[ "$rc" = 0 ] && [ "$static_rc" = 0 ] && [ "$failed" = 0 ]
