#!/usr/bin/env bash
# Builds NCNN (the `vision` feature's inference library) from the source its PyPI sdist carries, CPU only (no
# Vulkan), as a shared library with its C API, and installs it outside the checkout, keyed by version and
# architecture; prints the prefix (what ncnn-bind's NCNN_DIR wants: lib/libncnn.so, include/ncnn/c_api.h).
#
#   scripts/build-ncnn.sh [--arch x86_64|aarch64]
#
#   $OJSCOG_CACHE/native/ncnn-<version>-<arch>/{lib,include}
#
# Idempotent: a warm machine builds nothing. The sdist's sha256 is pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh

ARCH="$(uname -m)"
while [ $# -gt 0 ]; do
    case "$1" in
        --arch) ARCH="$2"; shift ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
    shift
done
case "$ARCH" in
    x86_64|amd64) ARCH=x86_64 ;;
    aarch64|arm64) ARCH=aarch64 ;;
    *) die "unsupported architecture $ARCH" ;;
esac

NCNN_VERSION=1.0.20261020
NCNN_SHA=ad8cdd63e9755cfa8e23b9b6d9ce46156077d80298a89e7c3ba325ffccfca200
# PyPI's address of the sdist (files.pythonhosted.org keeps it forever under its blake2b path).
NCNN_URL=https://files.pythonhosted.org/packages/b7/50/32b5172afe7d3e0dce410b7d8f4a5b7b84b942a0d69affbaedf669de52bc/ncnn-$NCNN_VERSION.tar.gz

prefix="$OJSCOG_CACHE/native/ncnn-$NCNN_VERSION-$ARCH"
if [ -f "$prefix/lib/libncnn.so" ] && [ -f "$prefix/include/ncnn/c_api.h" ]; then
    echo "$prefix"
    exit 0
fi

ensure_pkgs cmake
if [ "$ARCH" != "$(uname -m)" ]; then ensure_pkgs gcc-aarch64-linux-gnu g++-aarch64-linux-gnu; fi
dl="$OJSCOG_CACHE/downloads/ncnn-$NCNN_VERSION.tar.gz"
if [ ! -f "$dl" ]; then
    mkdir -p "$(dirname "$dl")"
    log "downloading the ncnn $NCNN_VERSION sdist from PyPI"
    curl -fsSL -o "$dl.tmp" "$NCNN_URL"
    mv "$dl.tmp" "$dl"
fi
got=$(sha256sum "$dl" | cut -d' ' -f1)
[ "$got" = "$NCNN_SHA" ] || { rm -f "$dl"; die "sha256 mismatch for $(basename "$dl"): got $got, want $NCNN_SHA"; }

work="$OJSCOG_CACHE/build/ncnn-$NCNN_VERSION-$ARCH"
rm -rf "$work" && mkdir -p "$work"
tar -xzf "$dl" -C "$work"
src="$work/ncnn-$NCNN_VERSION"
# Only the layers the two models use (read from their .param files) and the ones those create inside NCNN: the
# full library is ~750 objects (hours on 2 cores with every CPU variant), this is a fraction. A model that needs
# another layer fails to load with "layer ... not exists": the parity test catches it.
LAYERS="BinaryOp Concat Convolution ConvolutionDepthWise Deconvolution HardSigmoid HardSwish InnerProduct Input
    Interp Permute Pooling Reshape Sigmoid Slice Split Cast Scale Padding Packing Crop Flatten Bias Clip ReLU Mish Swish
    TanH Noop Dropout Eltwise UnaryOp Softmax MemoryData Gemm DeconvolutionDepthWise"
all=$(grep -o 'ncnn_add_layer([A-Za-z0-9]*' "$src/src/CMakeLists.txt" | sed 's/ncnn_add_layer(//')
layer_opts=()
for l in $all; do
    on=OFF
    for k in $LAYERS; do [ "$k" = "$l" ] && on=ON; done
    layer_opts+=("-DWITH_LAYER_$(echo "$l" | tr 'A-Z' 'a-z')=$on")
done
cross=()
if [ "$ARCH" != "$(uname -m)" ]; then
    cross=(-DCMAKE_SYSTEM_NAME=Linux -DCMAKE_SYSTEM_PROCESSOR=aarch64
        -DCMAKE_C_COMPILER=aarch64-linux-gnu-gcc -DCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++
        # Plain ARMv8.0 NEON kernels (Pi 4's Cortex-A72 and Pi 5's A76 both): the fp16/bf16/int8 variants are of no
        # use to fp32 models run with fp16 off.
        -DNCNN_ARM82=OFF -DNCNN_ARM84BF16=OFF -DNCNN_ARM84I8MM=OFF -DNCNN_ARM86SVE=OFF)
else
    # Development and test builds on x86_64: SSE2, AVX, FMA and AVX2 variants, picked at run time.
    cross=(-DNCNN_AVX512=OFF -DNCNN_AVXVNNI=OFF -DNCNN_XOP=OFF -DNCNN_FMA4=OFF)
fi
t0=$(date +%s)
log "building ncnn $NCNN_VERSION for $ARCH (CPU only, shared, C API)"
# The sdist has no tools/, examples/, benchmark/ or tests/: those must be off. The models are fp32 (int8 and bf16
# kernels are not built); NCNN_VERSION is given or ncnn would report the build's date.
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix.tmp" \
    -DCMAKE_INSTALL_LIBDIR=lib -DNCNN_VERSION="${NCNN_VERSION##*.}" -DNCNN_VULKAN=OFF -DNCNN_SHARED_LIB=ON \
    -DNCNN_BUILD_TOOLS=OFF -DNCNN_BUILD_EXAMPLES=OFF -DNCNN_BUILD_BENCHMARK=OFF -DNCNN_BUILD_TESTS=OFF \
    -DNCNN_PYTHON=OFF -DNCNN_INT8=OFF -DNCNN_BF16=OFF "${cross[@]}" "${layer_opts[@]}" >"$work/configure.log" 2>&1 \
    || { tail -30 "$work/configure.log" >&2; die "ncnn configure failed (log: $work/configure.log)"; }
cmake --build "$work/build" -j"$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; die "ncnn build failed (log: $work/build.log)"; }
rm -rf "$prefix.tmp"
cmake --install "$work/build" >/dev/null
rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
rm -rf "$work"
log "ncnn $NCNN_VERSION ($ARCH) in $prefix, built in $(( $(date +%s) - t0 )) s"
echo "$prefix"
