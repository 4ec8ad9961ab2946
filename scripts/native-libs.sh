#!/usr/bin/env bash
# Fetches the prebuilt native libraries the `voice` feature links, from PyPI wheels, verifies each wheel's sha256
# and unpacks it outside the checkout, keyed by version and architecture:
#
#   $OJSCOG_CACHE/native/sherpa-onnx-<version>-<arch>/sherpa_onnx/{lib,include}
#       sherpa-onnx's C API (speech-to-text, voice-activity detection) and the ONNX Runtime it links;
#       patches/sherpa-rs-sys finds it there (or at $SHERPA_LIB_PATH) and makes its bindings from its header.
#
#   scripts/native-libs.sh [--arch x86_64|aarch64] [--print-dir]
#
# Also installs the Debian packages piper-rs's bundled espeak-ng needs to build without cloning (libsonic-dev, for
# the target architecture) and espeak-ng-data for run time. Idempotent: a warm machine downloads nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh

ARCH="$(uname -m)"
print_dir=0
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) ARCH="$2"; shift ;;
        --print-dir) print_dir=1 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done
case "$ARCH" in
    x86_64|amd64) ARCH=x86_64; DEB_ARCH=amd64 ;;
    aarch64|arm64) ARCH=aarch64; DEB_ARCH=arm64 ;;
    *) die "unsupported architecture $ARCH" ;;
esac

# One sherpa-onnx version on both architectures (1.12.9, what crates.io's sherpa-rs-sys bundles, has no aarch64
# wheel). patches/sherpa-rs-sys/build.rs names the same version.
SHERPA_VERSION=1.12.10
case "$ARCH" in
    x86_64) SHERPA_SHA=8d3a414c8134537df82b75b2e9a7470f62baafdef1c3514491c286f33c4213b2 ;;
    aarch64) SHERPA_SHA=156aefa2386d4e418570fbd8ec808b576c589f7b5f4ca1cf7f95f5128e0810ad ;;
esac

sherpa_dir="$OJSCOG_CACHE/native/sherpa-onnx-$SHERPA_VERSION-$ARCH"
if [ "$print_dir" = 1 ]; then echo "$sherpa_dir/sherpa_onnx"; exit 0; fi

if [ ! -f "$sherpa_dir/sherpa_onnx/lib/libsherpa-onnx-c-api.so" ]; then
    dl="$OJSCOG_CACHE/downloads/sherpa-onnx-$SHERPA_VERSION-$ARCH"
    mkdir -p "$dl"
    whl=$(ls "$dl"/*.whl 2>/dev/null | head -n1 || true)
    if [ -z "$whl" ]; then
        log "downloading sherpa-onnx-core $SHERPA_VERSION ($ARCH) from PyPI"
        python3 -m pip download -q --no-deps --disable-pip-version-check --only-binary=:all: \
            --platform "manylinux2014_$ARCH" --python-version 3.11 --implementation cp \
            -d "$dl" "sherpa-onnx-core==$SHERPA_VERSION" >&2
        whl=$(ls "$dl"/*.whl | head -n1)
    fi
    got=$(sha256sum "$whl" | cut -d' ' -f1)
    if [ "$got" != "$SHERPA_SHA" ]; then
        rm -f "$whl"
        die "sha256 mismatch for $(basename "$whl"): got $got, want $SHERPA_SHA"
    fi
    rm -rf "$sherpa_dir.tmp" && mkdir -p "$sherpa_dir.tmp"
    unzip -q "$whl" 'sherpa_onnx/*' -d "$sherpa_dir.tmp"
    rm -rf "$sherpa_dir" && mv "$sherpa_dir.tmp" "$sherpa_dir"
    log "sherpa-onnx $SHERPA_VERSION ($ARCH) in $sherpa_dir"
fi

# piper-rs → espeak-rs-sys builds espeak-ng with cmake; without the system's sonic it would git-clone it.
if [ "$ARCH" = "$(uname -m)" ]; then
    ensure_pkgs libsonic-dev espeak-ng-data
else
    ensure_arm64_arch
    ensure_pkgs "libsonic-dev:$DEB_ARCH" "libsonic0:$DEB_ARCH"
fi
echo "$sherpa_dir/sherpa_onnx"
