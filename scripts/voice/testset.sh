#!/usr/bin/env bash
# Makes (once) the spoken test set of the voice commands with scripts/voice/make_testset.py, outside the checkout:
# $OJSCOG_CACHE/voice-testset/<key>/ (key: the generator's and the Piper voice's sha256), and prints its directory.
# tests/integration/voice_testset.rs reads it through $OJSCOG_VOICE_TESTSET (scripts/test sets it).
# Needs the Piper voice installed (scripts/fetch-models.sh), espeak-ng and sox (installed here), and PyPI for the
# generator's venv (piper-tts, pinned).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/image/common.sh

ensure_pkgs espeak-ng sox
voice="${OJSCOG_TEST_MODELS:-$OJSCOG_CACHE/models}/piper-en-us-joe-medium/current/voice.onnx"
[ -f "$voice" ] || die "the Piper voice is not installed at $voice: run scripts/fetch-models.sh"
gen=scripts/voice/make_testset.py
key=$(cat "$gen" "$voice.json" | sha256sum | cut -c1-16)
out="$OJSCOG_CACHE/voice-testset/$key"
if [ ! -f "$out/manifest.tsv" ]; then
    venv="$OJSCOG_CACHE/venv-testset"
    ensure_venv "$venv" piper piper-tts==1.8.0
    rm -rf "$out.tmp"
    "$venv/bin/python" "$gen" "$out.tmp" --piper-model "$voice" >&2
    rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
