#!/usr/bin/env bash
# Runs the crate's unit and integration tests built for aarch64, under qemu-user (qemu-aarch64-static as cargo's
# runner, from .cargo/config.toml; no "-L": see the notes there). Core features by default.
#
#   scripts/test-aarch64.sh                      # cargo test --target aarch64-unknown-linux-gnu
#   scripts/test-aarch64.sh --features embeddings -- --skip some_test
#
# Needs what scripts/test needs for the same tests (MariaDB on 127.0.0.1, $OJSCOG_TEST_DATA). Tests that spawn the
# aarch64 `ojscog` binary need binfmt_misc for aarch64, which this script enables (host tools such as chromium or
# promtool run natively: qemu-user hands a foreign-architecture exec to the kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh
scripts/build-aarch64.sh --install-only

# binfmt_misc: lets an aarch64 test binary exec the aarch64 ojscog binary (tests/integration/cli.rs and friends).
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null || log "cannot mount binfmt_misc: tests that run the binary will fail"
fi
if [ -e /proc/sys/fs/binfmt_misc/status ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    # qemu-user-static 10.x ships a systemd binfmt.d entry; older ones register through binfmt-support.
    if [ -f /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
        grep -v '^#' /usr/lib/binfmt.d/qemu-aarch64.conf > /proc/sys/fs/binfmt_misc/register || true
    else
        ensure_pkgs binfmt-support
        update-binfmts --enable qemu-aarch64 2>/dev/null || true
    fi
fi
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || log "qemu-aarch64 is not registered with binfmt_misc: tests that exec the binary will fail"

export CARGO_TARGET_DIR="${OJSCOG_AARCH64_TARGET_DIR:-$OJSCOG_CACHE/target-aarch64}"
export OJSCOG_TEST_DATA="${OJSCOG_TEST_DATA:-$(cd .. && pwd)/shared}"
start=$(date +%s)
set +e
debian_cargo test --locked --target aarch64-unknown-linux-gnu "$@"
rc=$?
set -e
log "aarch64 tests (qemu-user) took $(( $(date +%s) - start )) s, exit $rc"
exit $rc
