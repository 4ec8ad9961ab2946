#!/usr/bin/env bash
# LLM speed, ojscog (Rust, llama-cpp-2) side by side with a plain C++ program
# on llama.cpp's C API (scripts/llm-ref-bench.cpp): same GGUF, same threads,
# same prompt/generation sizes, and the very llama.cpp static libraries that
# llama-cpp-sys-2 built for ojscog (same source, same flags). Both measure the
# way llama-bench does (pp: prompt tokens in batches of 512; tg: single-token
# decodes; fresh context per repetition; one untimed warm-up).
#
# (The crate ships llama.cpp without tools/llama-bench, so the reference is
# built from the C API; pass REF_BENCH=/path/to/llama-bench to add a row from
# an upstream llama-bench binary too.)
#
# Usage: scripts/bench-llm.sh [MODEL.gguf]
#   THREADS=2 PROMPT=512 GEN=128 REPS=5 PROFILE=release scripts/bench-llm.sh
# Needs: a C++ compiler with OpenMP (g++), the apt packages of the llm build.
set -euo pipefail

cd "$(dirname "$0")/.."
THREADS=${THREADS:-2}
PROMPT=${PROMPT:-512}
GEN=${GEN:-128}
REPS=${REPS:-5}
PROFILE=${PROFILE:-release}
CACHE=${OJSCOG_CACHE:-$HOME/.cache/ojscog}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/target}

MODEL=${1:-${OJSCOG_TEST_LLM:-}}
if [[ -z "$MODEL" ]]; then
    MODEL=$(ls "$CACHE"/models/smollm2-135m-instruct/current/*.gguf 2>/dev/null | head -1 || true)
fi
if [[ -z "$MODEL" || ! -f "$MODEL" ]]; then
    echo "no GGUF model: run scripts/fetch-models.sh or pass MODEL.gguf" >&2
    exit 1
fi

if [[ "$PROFILE" == release ]]; then
    cargo build --release --features llm --bin ojscog
else
    cargo build --features llm --bin ojscog
fi
BIN="$CARGO_TARGET_DIR/$PROFILE/ojscog"
# The llama.cpp libraries the binary was linked with: the newest build of llama-cpp-sys-2.
OUT=$(ls -dt "$CARGO_TARGET_DIR/$PROFILE"/build/llama-cpp-sys-2-*/out 2>/dev/null | while read -r d; do
    [[ -f "$d/lib/libllama.a" ]] && echo "$d" && break; done)
if [[ -z "$OUT" ]]; then
    echo "no llama.cpp build under $CARGO_TARGET_DIR/$PROFILE/build" >&2
    exit 1
fi
REF="$CACHE/refbench/llm-ref-bench-$PROFILE"
mkdir -p "$(dirname "$REF")"
if [[ ! -x "$REF" || "$OUT/lib/libllama.a" -nt "$REF" || scripts/llm-ref-bench.cpp -nt "$REF" ]]; then
    g++ -O2 -std=c++17 -I"$OUT/include" scripts/llm-ref-bench.cpp -o "$REF" \
        "$OUT/lib/libllama.a" "$OUT/lib/libggml.a" "$OUT/lib/libggml-cpu.a" "$OUT/lib/libggml-base.a" \
        -fopenmp -lpthread -lm
fi

echo "## $(date -u +%F), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, threads $THREADS, $(basename "$MODEL"), cargo profile $PROFILE"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "### ojscog bench llm (Rust, llama-cpp-2)"
OJSCOG_LOG=warn "$BIN" bench llm --model "$MODEL" --threads "$THREADS" \
    --prompt "$PROMPT" --gen "$GEN" --reps "$REPS" | tail -n +2
echo
echo "### reference: C++ on llama.cpp's C API, same static libraries"
"$REF" "$MODEL" "$THREADS" "$PROMPT" "$GEN" "$REPS"
if [[ -n "${REF_BENCH:-}" ]]; then
    echo
    echo "### upstream llama-bench ($REF_BENCH)"
    "$REF_BENCH" -m "$MODEL" -t "$THREADS" -p "$PROMPT" -n "$GEN" -r "$REPS" -o md
fi
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
