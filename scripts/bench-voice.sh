#!/usr/bin/env bash
# Voice speed, ojscog (Rust: sherpa-onnx's C API, piper-rs) side by side with the Python `sherpa-onnx` and
# `piper-tts` packages, on the same model files (the model store), the same utterances (the spoken test set's
# clean Piper ones) and the same thread count, in one run. Prints the real-time factors (processing time / audio
# time; below 1 is faster than real time), the time from the end of speech to the start of the spoken answer, and
# peak RSS with every voice model loaded.
#
# Usage: scripts/bench-voice.sh      THREADS=2 COUNT=30 PROFILE=release scripts/bench-voice.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh
THREADS=${THREADS:-2}
COUNT=${COUNT:-30}
PROFILE=${PROFILE:-release}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/cache/ojscog/target}
bash scripts/native-libs.sh >/dev/null
testset=$(bash scripts/voice/testset.sh)
store="${OJSCOG_TEST_MODELS:-$OJSCOG_CACHE/models}"
venv="$OJSCOG_CACHE/venv-testset"
"$venv/bin/python" -c 'import sherpa_onnx' 2>/dev/null || "$venv/bin/pip" install -q --disable-pip-version-check sherpa-onnx==2.0.1 >&2
flag=(); [ "$PROFILE" = release ] && flag=(--release)
cargo build "${flag[@]}" --features voice --bin ojscog >&2
bin="$CARGO_TARGET_DIR/$([ "$PROFILE" = release ] && echo release || echo debug)/ojscog"
OJSCOG_DATA_DIR=$(mktemp -d) "$bin" bench voice "$testset" --threads "$THREADS" --count "$COUNT"
OMP_NUM_THREADS=$THREADS "$venv/bin/python" scripts/voice/bench_ref.py "$testset" "$store" "$THREADS" "$COUNT"
