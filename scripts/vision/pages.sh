#!/usr/bin/env bash
# Makes (once) the figure-check test pages with scripts/vision/make_pages.py, outside the checkout:
# $OJSCOG_CACHE/vision-pages/<key>/ (key: the generator's sha256 and its pinned packages), and prints its directory.
# tests/integration/vision_pages.rs reads it through $OJSCOG_VISION_PAGES (scripts/test sets it).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/image/common.sh

gen=scripts/vision/make_pages.py
pkgs=(reportlab==4.4.4 pypdfium2==4.30.0 pillow==11.3.0)
ensure_pkgs fonts-dejavu-core
key=$( (cat "$gen"; echo "${pkgs[*]}") | sha256sum | cut -c1-16)
out="$OJSCOG_CACHE/vision-pages/$key"
if [ ! -f "$out/manifest.json" ]; then
    venv="$OJSCOG_CACHE/venv-pages"
    ensure_venv "$venv" "reportlab, pypdfium2, PIL" "${pkgs[@]}"
    rm -rf "$out.tmp"
    "$venv/bin/python" "$gen" "$out.tmp" >&2
    rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
