# shellcheck shell=bash
# Helpers of the image scripts in this tree (keys.sh, rauc-keys.sh, mkbundle.sh, the Buildroot post scripts); the
# host tooling's scripts/image/common.sh sources it too. Source it; it defines no behaviour of its own.

OJSCOG_CACHE="${OJSCOG_CACHE:-${HOME:-/root}/.cache/ojscog}"
export OJSCOG_CACHE

log() { printf '%s %s\n' "[$(date +%H:%M:%S)]" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
