# shellcheck shell=bash
# Sourced by tests/image/appliance_test.sh after update_cases.sh (uses its box, mk_bundle and RAUC keys): the update
# channel's keys baked into the image, minisign interoperability, and a system update pulled from a signed channel by
# the CLI as root (`ojscog update import`), which runs the real ojscog-update into slot B.
# Needs the host ojscog binary in OJSCOG_HOST_BIN (scripts/test-image.sh builds it) and the minisign tool.

# Keys: the development pair, refused in a release; baked into the root by finalize-rootfs.
export OJSCOG_CACHE=$tmp/cache-u
ukeys=$(buildroot/scripts/update-keys.sh 2> /dev/null)
check "update-keys.sh makes a minisign development key pair in the user's cache" bash -c "[ '$ukeys' = '$tmp/cache-u/update-keys' ] && [ -s '$ukeys/ojscog-development.key' ] && head -n 1 '$ukeys/ojscog-development.pub' | grep -q DEVELOPMENT"
before=$(sha256sum < "$ukeys/ojscog-development.pub")
check "update-keys.sh keeps the key it made (one key per cache)" [ "$(sha256sum < "$(buildroot/scripts/update-keys.sh 2> /dev/null)/ojscog-development.pub")" = "$before" ]
out=$(OJSCOG_RELEASE=1 bash -c '. buildroot/scripts/lib.sh; . buildroot/scripts/keys.sh; update_keys' 2>&1); rc=$?
check "a release build without OJSCOG_UPDATE_KEYS fails" bash -c "[ $rc != 0 ] && grep -q OJSCOG_UPDATE_KEYS <<< '$out'"
out=$(OJSCOG_RELEASE=1 OJSCOG_UPDATE_KEYS=$ukeys bash -c '. buildroot/scripts/lib.sh; . buildroot/scripts/keys.sh; update_keys' 2>&1); rc=$?
check "a release build refuses the development update key" bash -c "[ $rc != 0 ] && grep -q 'development update key' <<< '$out'"
mkdir -p "$tmp/vendor-keys" "$tmp/prodca"
minisign -G -W -p "$tmp/vendor-keys/vendor.pub" -s "$tmp/vendor.key" > /dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/O=a journal/CN=production CA" -keyout "$tmp/prodca/k.pem" -out "$tmp/prodca/keyring.pem" 2> /dev/null
rm -rf "$tmp/target"; mkdir -p "$tmp/target"
out=$(OJSCOG_RELEASE=1 buildroot/board/common/finalize-rootfs.sh "$tmp/target" qemu-aarch64-virt 1.0 "$tmp/prodca/keyring.pem" "$ukeys" 2>&1); rc=$?
check "finalize-rootfs refuses the development update key in a release build" bash -c "[ $rc != 0 ] && [ ! -e '$tmp/target/etc/ojscog/update-keys' ]"
rm -rf "$tmp/target"; mkdir -p "$tmp/target"
OJSCOG_RELEASE=1 buildroot/board/common/finalize-rootfs.sh "$tmp/target" qemu-aarch64-virt 1.0 "$tmp/prodca/keyring.pem" "$tmp/vendor-keys" > /dev/null 2>&1; rc=$?
check "finalize-rootfs bakes the release's update keys into /etc/ojscog/update-keys (rc $rc)" bash -c "[ $rc = 0 ] && cmp -s '$tmp/vendor-keys/vendor.pub' '$tmp/target/etc/ojscog/update-keys/vendor.pub' && grep -q '^UPDATE_KEYS=production' '$tmp/target/etc/ojscog-release'"
rm -rf "$tmp/target"; mkdir -p "$tmp/target"
buildroot/board/common/finalize-rootfs.sh "$tmp/target" qemu-aarch64-virt 1.0 "$keys/keyring.pem" "$ukeys" > /dev/null 2>&1
check "a development root carries the development update key and says so" bash -c "[ -s '$tmp/target/etc/ojscog/update-keys/ojscog-development.pub' ] && [ ! -e '$tmp/target/etc/ojscog/update-keys/ojscog-development.key' ] && grep -q '^UPDATE_KEYS=development' '$tmp/target/etc/ojscog-release'"

bin=${OJSCOG_HOST_BIN:-}
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    bad "channel: no host ojscog binary (OJSCOG_HOST_BIN='$bin'): the CLI's system update path was not tested"
    return 0 2> /dev/null || exit 0
fi
# ojscog refuses OJSCOG_* variables it does not know (this test's own are exported): a clean environment.
ojscog() { env -i PATH="$PATH" HOME="${HOME:-/root}" "$bin" "$@"; }
# A channel with one system bundle for this box, indexed and signed by `ojscog release` with the development key.
ch=$tmp/channel
mkdir -p "$ch/system/ojscog-test/1.4.0+channel"
mk_bundle "$ch/system/ojscog-test/1.4.0+channel/ojscog.raucb" 1.4.0+channel 20260401T000000Z "the channel release"
ojscog release index "$ch" --key "$ukeys/ojscog-development.key" > "$tmp/release.out" 2>&1; rc=$?
check "ojscog release index signs a channel with a key made by the minisign tool (rc $rc)" [ "$rc" = 0 ]
check "the minisign tool verifies the index ojscog signed" minisign -Vq -m "$ch/index.json" -p "$ukeys/ojscog-development.pub"
# Signed again by the minisign tool itself: the box must take that too (a journal may publish with it).
minisign -S -s "$ukeys/ojscog-development.key" -m "$ch/index.json" -x "$ch/index.json.minisig" > /dev/null 2>&1 < /dev/null
check "the minisign tool re-signs the index" minisign -Vq -m "$ch/index.json" -p "$ukeys/ojscog-development.pub" -x "$ch/index.json.minisig"

# The box as root: the CLI runs the real ojscog-update (in this test box's paths) on the verified bundle.
dd if=/dev/zero of="$ROOTB" bs=1M count=8 conv=fsync status=none
dd if="$BOX/factory.img" of="$BOOTSTATE" conv=fsync status=none
cat > "$tmp/box-installer" <<SH
#!/bin/sh
exec env OJSCOG_RUN=$BOX/run OJSCOG_DATA=$BOX/data OJSCOG_ETC=$BOX/etc OJSCOG_CONSOLE=$BOX/console OJSCOG_LIB=$OJSCOG_LIB \
    OJSCOG_SLOT_CMD="env OJSCOG_RUN=$BOX/run OJSCOG_ETC=$BOX/etc OJSCOG_LIB=$OJSCOG_LIB busybox sh $SBIN/ojscog-slot" \
    busybox sh $SBIN/ojscog-update "\$@"
SH
chmod 0755 "$tmp/box-installer"
mkdir -p "$tmp/cli-data"
cat > "$tmp/cli.toml" <<TOML
data_dir = "$tmp/cli-data"
[update]
extra_keys = ["$ukeys/ojscog-development.pub"]
system_installer = "$tmp/box-installer"
system_release = "$BOX/etc/ojscog-release"
reserve_bytes = 0
TOML
ojscog --config "$tmp/cli.toml" update import "$ch" > "$tmp/import.out" 2>&1; rc=$?
got=$(unsquashfs -cat "$ROOTB" release.txt 2> /dev/null)
check "ojscog update import as root: the minisign-signed channel's bundle is written to slot B (rc $rc, slot B: '$got')" \
    bash -c "[ $rc = 0 ] && [ '$got' = 'the channel release' ]"
check "slot B is primary and unconfirmed with the channel's version" [ "$(boxenv busybox sh "$SBIN/ojscog-slot" status | head -1 | awk '{print $4}')" = B ]
ojscog --config "$tmp/cli.toml" update status > "$tmp/status.out" 2>&1
check "ojscog update status records the system update as installed by the installer" grep -q "1.4.0+channel" "$tmp/status.out"
# The same channel with its bundle tampered with after signing: refused before the installer runs.
dd if=/dev/zero of="$ROOTB" bs=1M count=8 conv=fsync status=none
printf 'X' | dd of="$ch/system/ojscog-test/1.4.0+channel/ojscog.raucb" bs=1 seek=3000 conv=notrunc status=none
ojscog --config "$tmp/cli.toml" update import "$ch" > "$tmp/import2.out" 2>&1; rc=$?
check "a tampered bundle in a signed channel is refused and the installer never runs (rc $rc)" \
    bash -c "[ $rc != 0 ] && grep -qi sha256 '$tmp/import2.out' && [ -z \"\$(unsquashfs -cat $ROOTB release.txt 2>/dev/null)\" ]"
