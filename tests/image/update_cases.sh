# shellcheck shell=bash
# Sourced by tests/image/appliance_test.sh: ojscog-update and the signing keys.
# Bundles are made here the way RAUC makes a plain bundle (squashfs + detached CMS signature + 8-byte size), so the
# test needs no rauc on the host.

# Development keys: the CA's private key never stays on disk.
keys=$(OJSCOG_CACHE=$tmp/cache buildroot/scripts/rauc-keys.sh 2> /dev/null)
check "rauc-keys.sh makes a signer and a keyring" bash -c "[ -s '$keys/signer.key.pem' ] && [ -s '$keys/keyring.pem' ] && openssl verify -CAfile '$keys/keyring.pem' '$keys/signer.cert.pem' > /dev/null"
check "rauc-keys.sh leaves no CA private key (cache or anywhere under it)" bash -c "! grep -rlq 'PRIVATE KEY' '$tmp/cache' --exclude=signer.key.pem"
touch "$keys/ca.key.pem"; OJSCOG_CACHE=$tmp/cache buildroot/scripts/rauc-keys.sh > /dev/null 2>&1
check "rauc-keys.sh removes a CA key left by an older version" [ ! -e "$keys/ca.key.pem" ]
# Release builds: no production keys -> fail, never fall back to the development keys.
out=$(OJSCOG_RELEASE=1 OJSCOG_CACHE=$tmp/cache2 buildroot/scripts/mkbundle.sh /dev/null ojscog-test 1.0 "$tmp/x.raucb" 2>&1); rc=$?
check "mkbundle.sh with OJSCOG_RELEASE=1 and no production keys fails" bash -c "[ $rc != 0 ] && grep -q 'production keyring' <<< '$out' && [ ! -e '$tmp/cache2/rauc-keys' ]"
out=$(OJSCOG_RELEASE=1 OJSCOG_RAUC_KEY=$keys/signer.key.pem OJSCOG_RAUC_CERT=$keys/signer.cert.pem OJSCOG_RAUC_KEYRING=$keys/keyring.pem \
    buildroot/scripts/mkbundle.sh /dev/null ojscog-test 1.0 "$tmp/x.raucb" 2>&1); rc=$?
check "mkbundle.sh with OJSCOG_RELEASE=1 refuses the development CA" bash -c "[ $rc != 0 ] && grep -q 'development CA' <<< '$out'"
mkdir -p "$tmp/target/etc"
out=$(OJSCOG_RELEASE=1 BR2_EXTERNAL_OJSCOG_PATH=$top/buildroot OJSCOG_CACHE=$tmp/cache3 buildroot/scripts/post-build.sh "$tmp/target" qemu-aarch64-virt 2>&1); rc=$?
check "Buildroot post-build with OJSCOG_RELEASE=1 and no production keys fails" bash -c "[ $rc != 0 ] && [ ! -e '$tmp/target/etc/rauc/keyring.pem' ] && [ ! -e '$tmp/cache3/rauc-keys' ]"
out=$(OJSCOG_RELEASE=1 buildroot/board/common/finalize-rootfs.sh "$tmp/target" qemu-aarch64-virt 1.0 "$keys/keyring.pem" 2>&1); rc=$?
check "finalize-rootfs refuses the development keyring in a release build" bash -c "[ $rc != 0 ] && [ ! -e '$tmp/target/etc/rauc/keyring.pem' ]"
check "no build script points the key cache into Buildroot's output" bash -c "! grep -n 'BASE_DIR/ojscog-keys' buildroot/scripts/*.sh"

# mk_bundle OUT VERSION BUILD CONTENT [KEYDIR]: a plain RAUC bundle whose rootfs image holds the text CONTENT.
mk_bundle() {
    local out=$1 version=$2 build=$3 content=$4 kd=${5:-$keys} d
    d=$(mktemp -d -p "$tmp")
    mkdir "$d/root" "$d/c"
    printf '%s\n' "$content" > "$d/root/release.txt"
    mksquashfs "$d/root" "$d/c/rootfs.squashfs" -all-root -noappend -quiet -no-progress > /dev/null
    printf '[update]\ncompatible=ojscog-test\nversion=%s\nbuild=%s\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.squashfs\nsha256=%s\nsize=%s\n' \
        "$version" "$build" "$(sha256sum < "$d/c/rootfs.squashfs" | cut -c1-64)" "$(stat -c %s "$d/c/rootfs.squashfs")" > "$d/c/manifest.raucm"
    mksquashfs "$d/c" "$d/payload" -all-root -noappend -quiet -no-progress > /dev/null
    openssl cms -sign -binary -in "$d/payload" -signer "$kd/signer.cert.pem" -inkey "$kd/signer.key.pem" -outform DER -out "$d/sig" 2> /dev/null
    cat "$d/payload" "$d/sig" > "$out"
    python3 -c 'import struct,sys; sys.stdout.buffer.write(struct.pack(">Q", int(sys.argv[1])))' "$(stat -c %s "$d/sig")" >> "$out"
    rm -rf "$d"
}
mkbox update 4 0
cp "$keys/keyring.pem" "$BOX/etc/rauc/keyring.pem"
printf '[system]\ncompatible=ojscog-test\nbootloader=custom\n' > "$BOX/etc/rauc/system.conf"
printf 'NAME=ojscog\nVERSION="1.2.0+old"\nBUILD=20260101T000000Z\n' > "$BOX/etc/ojscog-release"
busybox sh buildroot/board/common/mkbootstate.sh 1.2.0+old "$BOX/factory.img" && dd if="$BOX/factory.img" of="$BOOTSTATE" conv=fsync status=none
echo A > "$BOX/run/booted-slot"
update() {
    boxenv env OJSCOG_SLOT_CMD="env OJSCOG_RUN=$BOX/run OJSCOG_ETC=$BOX/etc OJSCOG_LIB=$OJSCOG_LIB busybox sh $SBIN/ojscog-slot" \
        busybox sh "$SBIN/ojscog-update" "$@" > "$BOX/update.out" 2>&1
}
mk_bundle "$tmp/good.raucb" 1.3.0+new 20260201T000000Z "the signed release"
update "$tmp/good.raucb"; rc=$?
check "a signed, newer bundle installs into slot B (rc $rc)" bash -c "[ $rc = 0 ] && [ \"\$(unsquashfs -cat $ROOTB release.txt 2>/dev/null)\" = 'the signed release' ]"
check "slot B is primary, unconfirmed, with the bundle's version" [ "$(boxenv busybox sh "$SBIN/ojscog-slot" status | head -1 | awk '{print $4}')" = B ]
check "the bundle copy and its tmpfs are gone afterwards" bash -c "[ ! -e '$BOX/run/update' ] && ! grep -q ' $BOX/run/update' /proc/mounts"

# Swap after the signature check: an openssl that, once it has verified the bundle, replaces the file with an
# unsigned one (in a private mount namespace, so only this test sees the stand-in).
dd if=/dev/zero of="$ROOTB" bs=1M count=8 conv=fsync status=none
dd if="$BOX/factory.img" of="$BOOTSTATE" conv=fsync status=none
mk_bundle "$tmp/victim.raucb" 1.3.0+new 20260201T000000Z "the signed release"
mkdir -p "$tmp/evilkeys"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=attacker" -keyout "$tmp/evilkeys/signer.key.pem" -out "$tmp/evilkeys/signer.cert.pem" 2> /dev/null
mk_bundle "$tmp/evil.raucb" 1.3.0+new 20260201T000000Z "UNSIGNED PAYLOAD" "$tmp/evilkeys"
real_openssl=$(readlink -f "$(command -v openssl)")
cp "$real_openssl" "$tmp/openssl.real"
cat > "$tmp/openssl-swapper" <<SH
#!/bin/sh
"$tmp/openssl.real" "\$@"; rc=\$?
case " \$* " in *" -verify "*) cp "$tmp/evil.raucb" "$tmp/victim.raucb.new" && mv "$tmp/victim.raucb.new" "$tmp/victim.raucb" ;; esac
exit \$rc
SH
chmod 0755 "$tmp/openssl-swapper"
export -f boxenv update
export BOX SBIN OJSCOG_LIB
unshare -m bash -c "mount --bind '$tmp/openssl-swapper' '$real_openssl' && update '$tmp/victim.raucb'"; rc=$?
got=$(unsquashfs -cat "$ROOTB" release.txt 2> /dev/null)
check "a bundle swapped after its signature check: the verified copy is what is installed (slot B: '$got')" [ "$got" = "the signed release" ]
check "the swap really happened (the file on disk is now the unsigned one)" cmp -s "$tmp/victim.raucb" "$tmp/evil.raucb"

# Versions: older and equal are refused; --force installs the same release.
mk_bundle "$tmp/old.raucb" 1.1.9+older 20270101T000000Z "older"
update "$tmp/old.raucb"; rc=$?
check "an older version is refused (even with a later build time)" bash -c "[ $rc != 0 ] && grep -q 'not newer' '$BOX/update.out'"
mk_bundle "$tmp/same.raucb" 1.2.0+old 20260101T000000Z "same"
update "$tmp/same.raucb"; rc=$?
check "the running release (same version and build) is refused" bash -c "[ $rc != 0 ] && grep -q 'not newer' '$BOX/update.out'"
update "$tmp/same.raucb" --force; rc=$?
check "--force installs the same release" bash -c "[ $rc = 0 ] && [ \"\$(unsquashfs -cat $ROOTB release.txt 2>/dev/null)\" = same ]"
mk_bundle "$tmp/rebuild.raucb" 1.2.0+old 20260301T000000Z "rebuilt"
update "$tmp/rebuild.raucb"; rc=$?
check "the same version with a later build installs" [ "$rc" = 0 ]
# A bundle signed by another CA, and a bundle with a flipped byte.
update "$tmp/evil.raucb"; rc=$?
check "a bundle signed by an unknown key is refused" bash -c "[ $rc != 0 ] && grep -q 'signature check failed' '$BOX/update.out'"
cp "$tmp/good.raucb" "$tmp/flipped.raucb"
printf 'X' | dd of="$tmp/flipped.raucb" bs=1 seek=5000 conv=notrunc status=none
update "$tmp/flipped.raucb"; rc=$?
check "a bundle with a flipped byte is refused" bash -c "[ $rc != 0 ] && grep -q 'signature check failed' '$BOX/update.out'"

# The RAUC pre-install handler (Buildroot images' `rauc install`) applies the same rule.
pre() { boxenv env "$@" busybox sh "$LIBEXEC/rauc-pre-install" > "$BOX/pre.out" 2>&1; }
mkdir -p "$tmp/src-new" "$tmp/src-old"
printf '[update]\ncompatible=ojscog-test\nversion=1.2.0+old\nbuild=20260301T000000Z\n' > "$tmp/src-new/manifest.raucm"
printf '[update]\ncompatible=ojscog-test\nversion=1.2.0+old\nbuild=20260101T000000Z\n' > "$tmp/src-old/manifest.raucm"
check "rauc pre-install: a newer version passes" pre RAUC_MF_VERSION=1.3.0
check "rauc pre-install: an older version is refused" bash -c "! OJSCOG_RUN=$BOX/run OJSCOG_ETC=$BOX/etc RAUC_MF_VERSION=1.1.0 busybox sh $LIBEXEC/rauc-pre-install 2>/dev/null"
check "rauc pre-install: the same version with a later build passes" pre RAUC_MF_VERSION=1.2.0+old RAUC_UPDATE_SOURCE="$tmp/src-new"
check "rauc pre-install: the running release is refused" bash -c "! OJSCOG_RUN=$BOX/run OJSCOG_ETC=$BOX/etc RAUC_MF_VERSION=1.2.0+old RAUC_UPDATE_SOURCE=$tmp/src-old busybox sh $LIBEXEC/rauc-pre-install 2>/dev/null"
touch "$BOX/run/update-force"
check "rauc pre-install: update-force lets the same release through once" bash -c "OJSCOG_RUN=$BOX/run OJSCOG_ETC=$BOX/etc RAUC_MF_VERSION=1.1.0 busybox sh $LIBEXEC/rauc-pre-install 2>/dev/null && [ ! -e $BOX/run/update-force ]"
