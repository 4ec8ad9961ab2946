#!/usr/bin/env bash
# Builds the Debian package of a server install with cargo-deb (README "Installing on a server"): the binary with
# every feature, the native libraries it links that Debian does not ship (NCNN, sherpa-onnx's C API) in
# /usr/lib/ojscog, the default config in /etc/ojscog, the systemd unit and the maintainer scripts from scripts/deb/.
# Prints the .deb's path.
#
#   scripts/build-deb.sh                      # release build (what to install)
#   scripts/build-deb.sh --profile dev        # package the binary the tests built (scripts/test-deb.sh), no build
#
# cargo-deb is installed once, keyed by version, outside the checkout ($OJSCOG_TOOLS, /var/cache/ojscog/tools).
# The models are not in the package: `scripts/fetch-models.sh --data-dir /var/lib/ojscog` puts them in the store.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh

PROFILE=release
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE="$2"; shift 2 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) die "unknown argument $1" ;;
    esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/ojscog/target}"
CARGO_DEB_VERSION=3.6.4
TOOLS="${OJSCOG_TOOLS:-/var/cache/ojscog/tools}"
cargo_deb="$TOOLS/cargo-deb-$CARGO_DEB_VERSION/bin/cargo-deb"
if [ ! -x "$cargo_deb" ]; then
    log "installing cargo-deb $CARGO_DEB_VERSION into $TOOLS"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --root "$TOOLS/cargo-deb-$CARGO_DEB_VERSION" >&2
fi
ensure_pkgs dpkg-dev >&2   # dpkg-shlibdeps: the package's Depends from the libraries the binary links

case "$PROFILE" in
    release) profile_dir=release ;;
    dev) profile_dir=debug ;;
    *) profile_dir="$PROFILE" ;;
esac
bin="$CARGO_TARGET_DIR/$profile_dir/ojscog"
if [ "$PROFILE" = release ]; then
    bash scripts/native-libs.sh >/dev/null
    bash scripts/build-ncnn.sh >/dev/null
    cargo build --release --all-features --bin ojscog >&2
fi
[ -x "$bin" ] || die "$bin is missing (build it with: cargo build --all-features${PROFILE:+ --profile $PROFILE})"

# The libraries the binary links from this build's caches (not from Debian), where its rpath looks first:
# $ORIGIN/../lib/ojscog (NCNN) and $ORIGIN/../lib/ojscog/sherpa (sherpa-onnx with its own ONNX Runtime).
stage="$CARGO_TARGET_DIR/$profile_dir/deb-libs"
rm -rf "$stage"
mkdir -p "$stage/sherpa"
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | while read -r name path; do
    case "$name" in
        libncnn*) cp -L "$path" "$stage/$name" ;;
        libsherpa-onnx*) cp -L "$(dirname "$path")"/*.so* "$stage/sherpa/" ;;
    esac
done
[ -n "$(ls "$stage")" ] || die "no NCNN library found in $bin's links (is it built with --all-features?)"
[ -n "$(ls "$stage/sherpa")" ] || die "no sherpa-onnx library found in $bin's links (is it built with --all-features?)"

out="$CARGO_TARGET_DIR/debian"
mkdir -p "$out"
"$cargo_deb" --no-build --profile "$PROFILE" --output "$out" >&2
ls -t "$out"/ojscog_*.deb | head -1
