#!/usr/bin/env bash
# Builds the aarch64 (Raspberry Pi 4/5 class) release binary of ojscog, installing what it needs first.
#
#   scripts/build-aarch64.sh              # every feature (--all-features), native libs included
#   scripts/build-aarch64.sh --core       # no optional features (fast; what the image test boots by default)
#   scripts/build-aarch64.sh --features llm,embeddings
#   scripts/build-aarch64.sh --install-only
#   scripts/build-aarch64.sh --core --src DIR   # build another tree (e.g. a `git archive` snapshot) with this repo's settings
#
# Toolchain: Debian bookworm's Rust 1.96 (rustc-web, cargo-web) with the aarch64 std (libstd-rust-web-dev:arm64)
# and the aarch64 gcc/g++ cross compilers; the settings are in .cargo/config.toml. rustup here has only the
# x86_64 std, so this script calls /usr/bin/cargo. Idempotent: apt runs only for missing packages.
#
# Output: $OJSCOG_CACHE/aarch64/<profile-name>/ojscog plus lib/ (shared libraries to ship under /usr/lib/ojscog).
# The path of the binary is printed on the last line of stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh

mode=all
features=""
install_only=0
repo=$(pwd)
src=$repo
while [ $# -gt 0 ]; do
    case "$1" in
        --core) mode=core ;;
        --all-features) mode=all ;;
        --features) mode=some; features="$2"; shift ;;
        --install-only) install_only=1 ;;
        --src) src=$(cd "$2" && pwd); shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done

TARGET=aarch64-unknown-linux-gnu
export CARGO_TARGET_DIR="${OJSCOG_AARCH64_TARGET_DIR:-$OJSCOG_CACHE/target-aarch64}"

install_toolchain() {
    ensure_arm64_arch
    ensure_pkgs rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu g++-aarch64-linux-gnu \
        libc6-dev-arm64-cross libc6:arm64 qemu-user-static cmake pkg-config
    # Debian's cargo must be able to read the lock file written by the project's toolchain.
    /usr/bin/rustc --version >/dev/null
}

needs_native() { [ "$mode" = all ] || [[ ",$features," == *,llm,* ]] || [[ ",$features," == *,embeddings,* ]] || [[ ",$features," == *,voice,* ]] || [[ ",$features," == *,vision,* ]]; }
wants() { [ "$mode" = all ] || [[ ",$features," == *,"$1",* ]]; }

install_native_tools() {
    # llama-cpp-sys-2: cmake + bindgen (libclang) against the aarch64 cross headers.
    { wants llm || wants voice || wants vision; } && ensure_pkgs clang libclang-dev
    return 0
}

# ONNX Runtime for aarch64: the same PyPI package as on the host, its manylinux aarch64 wheel (loaded with dlopen).
# Same version and file hash as scripts/fetch-models.sh pins for the device (ort 2.0.0-rc.12 needs API 24).
ORT_VERSION="${OJSCOG_ORT_VERSION:-1.24.4}"
ORT_SHA_AARCH64="${OJSCOG_ORT_SHA:-f373ae5fd4d878ed17ebea26e5480bd3d0a15e3bd6bc94b878e6c1b73998d22a}"
fetch_onnxruntime() {
    local dir="$OJSCOG_CACHE/onnxruntime-aarch64/$ORT_VERSION"
    if ! ls "$dir"/lib/libonnxruntime.so* >/dev/null 2>&1; then
        log "fetching onnxruntime $ORT_VERSION aarch64 wheel from PyPI"
        local tmp; tmp=$(mktemp -d)
        python3 -m pip download -q --no-deps --only-binary=:all: --platform manylinux_2_27_aarch64 \
            --python-version 3.11 --implementation cp -d "$tmp" "onnxruntime==$ORT_VERSION" >&2
        mkdir -p "$dir/lib"
        python3 - "$tmp"/onnxruntime-*.whl "$dir/lib" <<'PY'
import sys, zipfile, os
whl, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(whl) as z:
    for n in z.namelist():
        if n.startswith("onnxruntime/capi/libonnxruntime.so"):
            target = os.path.join(out, os.path.basename(n))
            with open(target, "wb") as f:
                f.write(z.read(n))
PY
        rm -rf "$tmp"
        local so; so=$(ls "$dir"/lib/libonnxruntime.so.* | head -1)
        if [ "$ORT_VERSION" = 1.24.4 ] && [ "$(sha256sum < "$so" | cut -d' ' -f1)" != "$ORT_SHA_AARCH64" ]; then
            rm -rf "$dir"; die "libonnxruntime.so from the aarch64 wheel does not match the pinned sha256"
        fi
        ln -sf "$(basename "$so")" "$dir/lib/libonnxruntime.so"
    fi
    echo "$dir/lib"
}

install_toolchain
needs_native && install_native_tools
[ "$install_only" = 1 ] && { log "toolchain ready"; exit 0; }

args=(build --release --locked --target "$TARGET")
case "$mode" in
    core) name=core ;;
    all) name=all-features; args+=(--all-features) ;;
    some) name="features-${features//,/-}"; args+=(--features "$features") ;;
esac
out="$OJSCOG_CACHE/aarch64/$name"
mkdir -p "$out/lib"

if wants llm; then
    # bindgen must parse the target's headers, not the host's.
    export BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu="--target=aarch64-linux-gnu --sysroot=/usr/aarch64-linux-gnu -I/usr/aarch64-linux-gnu/include"
    # A Pi 4 is a Cortex-A72 (armv8.0-a); a portable baseline keeps one binary for Pi 4 and 5.
    export GGML_NATIVE=OFF
fi
if wants vision; then
    # NCNN built from the PyPI sdist with the cross compilers (scripts/build-ncnn.sh, cached); the image ships
    # libncnn.so beside the binary's other libraries (/usr/lib/ojscog). pdfium is a model-store entry, loaded at run time.
    ncnn=$(bash scripts/build-ncnn.sh --arch aarch64 | tail -n1)
    export NCNN_DIR="$ncnn"
    cp -a "$ncnn"/lib/libncnn.so* "$out/lib/"
fi
if wants embeddings || wants voice; then
    ortlib=$(fetch_onnxruntime)
    cp -a "$ortlib"/libonnxruntime.so* "$out/lib/"
fi
if wants voice; then
    # sherpa-onnx's C API and its own ONNX Runtime (1.17, soname libonnxruntime.so) from the aarch64 wheel, in a
    # directory of their own: ort's libonnxruntime.so (1.24) must not be shadowed. The binary's rpath
    # $ORIGIN/../lib/ojscog/sherpa finds them in the image; the C API's own rpath $ORIGIN finds its runtime.
    sherpa=$(bash scripts/native-libs.sh --arch aarch64 | tail -n1)
    export SHERPA_LIB_PATH="$sherpa"
    mkdir -p "$out/lib/sherpa"
    cp "$sherpa"/lib/libsherpa-onnx-c-api.so "$sherpa"/lib/libonnxruntime.so "$out/lib/sherpa/"
    # piper-rs's espeak-ng is built with the cross compilers by cmake, against the arm64 sonic.
    export PKG_CONFIG_ALLOW_CROSS=1
fi

cfg=()
# Outside the checkout cargo does not find .cargo/config.toml: pass it (only then: arrays would be doubled).
[ "$src" != "$repo" ] && cfg=(--config "$repo/.cargo/config.toml")
log "cargo ${args[*]} in $src (target dir $CARGO_TARGET_DIR)"
start=$(date +%s)
(cd "$src" && debian_cargo "${cfg[@]}" "${args[@]}")
log "aarch64 build ($name) took $(( $(date +%s) - start )) s"
install -m 0755 "$CARGO_TARGET_DIR/$TARGET/release/ojscog" "$out/ojscog"
aarch64-linux-gnu-strip "$out/ojscog" 2>/dev/null || true
file "$out/ojscog" >&2 2>/dev/null || true
echo "$out/ojscog"
