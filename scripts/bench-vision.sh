#!/usr/bin/env bash
# Vision speed, NCNN (what the box uses) side by side with ONNX Runtime on the same models (the ONNX originals of
# the converted pair), the same drawn pages and the same thread count, in one run; each runtime in its own process,
# so each peak RSS is that runtime's alone. Prints pages per second, time per page per model, load time, peak RSS.
#
# Usage: scripts/bench-vision.sh      THREADS=2 COUNT=20 PROFILE=release scripts/bench-vision.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh
THREADS=${THREADS:-2}
COUNT=${COUNT:-20}
PROFILE=${PROFILE:-release}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/ojscog/target}
bash scripts/build-ncnn.sh >/dev/null
pages=$(bash scripts/vision/pages.sh)
flag=(); [ "$PROFILE" = release ] && flag=(--release)
cargo build "${flag[@]}" --features vision --bin ojscog >&2
bin="$CARGO_TARGET_DIR/$([ "$PROFILE" = release ] && echo release || echo debug)/ojscog"
data=$(mktemp -d)
for rt in ncnn onnx; do
    OJSCOG_DATA_DIR="$data" "$bin" bench vision "$pages" --runtime "$rt" --threads "$THREADS" --count "$COUNT"
done
rm -rf "$data"
