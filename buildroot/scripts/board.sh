#!/usr/bin/env bash
# A board's files, rendered from its meta (board/<board>/meta, KEY=VALUE lines, parsed here and never sourced) and
# the common templates of board/common/ — one layout and one RAUC configuration for every board:
#   board.sh BOARD get KEY                    prints a meta value (RAUC_COMPATIBLE, BOOT_FILES, BOARD_NAME, DEFCONFIG)
#   board.sh BOARD system.conf OUT            writes the RAUC system.conf (board/common/rauc/system.conf.in)
#   board.sh BOARD genimage GENIMAGE_ARGS...  runs genimage on board/common/genimage.cfg, whose include("boot.cfg") is
#                                             the board's boot partition (board/common/boot.cfg.in with BOOT_FILES)
# Used by the Buildroot post scripts, board/common/finalize-rootfs.sh, scripts/build-image.sh (the qemu image without
# Buildroot), scripts/test-image.sh and tests/image/check_tree.py.
set -euo pipefail
shopt -s inherit_errexit   # a failing $(get ...) inside $(render ...) stops the script
ext=$(cd "$(dirname "$0")/.." && pwd)
. "$ext/scripts/lib.sh"
[ $# -ge 2 ] || die "usage: board.sh BOARD get KEY | system.conf OUT | genimage GENIMAGE_ARGS..."
board=$1 cmd=$2
shift 2
case "$board" in ''|*/*|.*|common) die "board.sh: not a board name: '$board'" ;; esac
meta="$ext/board/$board/meta"
[ -f "$meta" ] || die "board $board: no meta ($meta)"

get() {
    local v
    v=$(sed -n "s/^$1=//p" "$meta" | tail -1)
    v=${v#\"}
    v=${v%\"}
    [ -n "$v" ] || die "board $board: $1 is not set in $meta"
    case "$v" in *['|&\"$`']*) die "board $board: $1 in $meta has a character the templates do not take: $v" ;; esac
    printf '%s\n' "$v"
}

# render TEMPLATE: @BOARD@, @RAUC_COMPATIBLE@ and @BOOT_FILES@ (as a genimage list: "a", "b") replaced.
render() {
    local compat files
    compat=$(get RAUC_COMPATIBLE)
    files=$(get BOOT_FILES | tr -s ' \t' '\n\n' | sed '/^$/d; s/.*/"&"/' | paste -sd, - | sed 's/,/, /g')
    sed -e "s|@BOARD@|$board|g" -e "s|@RAUC_COMPATIBLE@|$compat|g" -e "s|@BOOT_FILES@|$files|g" "$1"
}

case "$cmd" in
    get)
        [ $# = 1 ] || die "usage: board.sh BOARD get KEY"
        get "$1" ;;
    system.conf)
        [ $# = 1 ] || die "usage: board.sh BOARD system.conf OUT"
        conf=$(render "$ext/board/common/rauc/system.conf.in")
        printf '%s\n' "$conf" > "$1"
        chmod 0644 "$1" ;;
    genimage)
        inc=$(mktemp -d)
        trap 'rm -rf "$inc"' EXIT
        boot=$(render "$ext/board/common/boot.cfg.in")
        printf '%s\n' "$boot" > "$inc/boot.cfg"
        # genimage (16) looks for the config, too, on the include path when one is given (an absolute --config then
        # fails): both are found there, the rendered boot.cfg first.
        genimage --config genimage.cfg --includepath "$inc:$ext/board/common" "$@" ;;
    *) die "board.sh: unknown command $cmd" ;;
esac
