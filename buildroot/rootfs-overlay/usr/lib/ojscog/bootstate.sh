# shellcheck shell=sh
# The boot-state store (GPT partition "bootstate", 1 MiB, raw), shared by the initramfs (board/common/initramfs/init,
# which gets a copy of this file), ojscog-slot and ojscog-provision-data. Sourced, never executed; POSIX sh + BusyBox
# (dd, tr, sha256sum, cut). Nothing read from the partition is ever evaluated: each line is matched against the
# known keys and value shapes, and a block whose SHA256 line does not match its text is ignored.
#
# Layout (4 KiB blocks):
#   block 0   slot state, copy 1  } the same text; written copy 1 first, then copy 2, each fsynced, so a power
#   block 1   slot state, copy 2  } loss leaves one whole copy. A reader takes the first valid copy.
#   block 16  provisioning record (written once, on the first boot that provisions /data; never by slot changes)
# Slot state text (v2; the v1 text of older images had no OK and no SHA256 lines and is still read):
#   OJSCOG-BOOTSTATE 2
#   ORDER="A B"            boot order ("A B" or "B A")
#   A_TRIES=3  B_TRIES=3   boots left before the slot counts as failed (0-9)
#   A_BAD=0    B_BAD=0     1: never boot it again until reinstalled
#   A_OK=1     B_OK=1      1: the slot has been healthy at least once since it was installed (confirmed)
#   A_VERSION="…" B_VERSION="…"   release versions ([A-Za-z0-9._+~-], at most 96 characters)
#   SHA256=<sha256 of all the lines above, newlines included>
# Provisioning record:
#   OJSCOG-PROVISIONED 1
#   DATE=2026-01-01T00:00:00Z
#   ROOT_HASH=$6$salt$hash    (console login password of root; "" = not set)
#   SHA256=<sha256 of the lines above>

bs_defaults() {
    ORDER="A B"; A_TRIES=3; B_TRIES=3; A_BAD=0; B_BAD=0; A_OK=1; B_OK=1; A_VERSION=; B_VERSION=
}

bs_version_ok() {
    case "$1" in *[!A-Za-z0-9._+~-]*) return 1 ;; esac
    [ "${#1}" -le 96 ]
}

# bs_block DEV N: the text of 4 KiB block N (NULs removed).
bs_block() { dd if="$1" bs=4096 skip="$2" count=1 2>/dev/null | tr -d '\000'; }

# bs_body TEXT: prints the text before the SHA256 line when the checksum matches; fails otherwise.
bs_body() {
    _t=$1
    case "$_t" in *"
SHA256="*) ;; *) return 1 ;; esac
    _sum=${_t##*
SHA256=}
    _body=${_t%SHA256=*}
    case "$_sum" in *[!0-9a-f]*) return 1 ;; esac
    [ "${#_sum}" = 64 ] || return 1
    [ "$(printf '%s' "$_body" | sha256sum | cut -c1-64)" = "$_sum" ] || return 1
    printf '%s' "$_body"
}

# bs_parse_state TEXT: sets ORDER, *_TRIES, *_BAD, *_OK, *_VERSION from a checked state text; fails (leaving the
# variables alone) on any unknown line or value.
bs_parse_state() {
    _n=0 _o= _at= _bt= _ab= _bb= _aok=1 _bok=1 _av= _bv= _v=
    while IFS= read -r _l; do
        _n=$((_n + 1))
        if [ "$_n" = 1 ]; then
            case "$_l" in 'OJSCOG-BOOTSTATE 1'|'OJSCOG-BOOTSTATE 2') _hdr=$_l; continue ;; *) return 1 ;; esac
        fi
        case "$_l" in
            'ORDER="A B"') _o="A B" ;;
            'ORDER="B A"') _o="B A" ;;
            A_TRIES=[0-9]) _at=${_l#*=} ;;
            B_TRIES=[0-9]) _bt=${_l#*=} ;;
            A_BAD=[01]) _ab=${_l#*=} ;;
            B_BAD=[01]) _bb=${_l#*=} ;;
            A_OK=[01]) [ "$_hdr" = 'OJSCOG-BOOTSTATE 2' ] || return 1; _aok=${_l#*=} ;;
            B_OK=[01]) [ "$_hdr" = 'OJSCOG-BOOTSTATE 2' ] || return 1; _bok=${_l#*=} ;;
            A_VERSION=\"*\"|B_VERSION=\"*\")
                _v=${_l#?_VERSION=\"}; _v=${_v%\"}
                bs_version_ok "$_v" || return 1
                case "$_l" in A*) _av=$_v ;; *) _bv=$_v ;; esac ;;
            '') ;;
            *) return 1 ;;
        esac
    done <<EOF
$1
EOF
    [ -n "$_o" ] && [ -n "$_at" ] && [ -n "$_bt" ] && [ -n "$_ab" ] && [ -n "$_bb" ] || return 1
    ORDER=$_o; A_TRIES=$_at; B_TRIES=$_bt; A_BAD=$_ab; B_BAD=$_bb; A_OK=$_aok; B_OK=$_bok
    A_VERSION=$_av; B_VERSION=$_bv
}

# bs_read DEV: loads the slot state. 0: a valid copy was read; 1: none was (the defaults are set: both slots good,
# A first). v1 texts (no checksum) from older images are accepted when every line parses.
# Order: copy 1 (v2); copy 1 as v1 (an initramfs of an older image writes only block 0, so its text is the newest);
# copy 2 (v2).
bs_read() {
    bs_defaults
    _txt=$(bs_block "$1" 0)
    if _b=$(bs_body "$_txt"); then
        bs_parse_state "$_b" && return 0
    fi
    case "$_txt" in 'OJSCOG-BOOTSTATE 1'*) bs_parse_state "$_txt" && return 0 ;; esac
    _txt=$(bs_block "$1" 1)
    if _b=$(bs_body "$_txt"); then
        bs_parse_state "$_b" && return 0
    fi
    bs_defaults
    return 1
}

# bs_text: the state text with its checksum line.
bs_text() {
    _body=$(printf 'OJSCOG-BOOTSTATE 2\nORDER="%s"\nA_TRIES=%s\nB_TRIES=%s\nA_BAD=%s\nB_BAD=%s\nA_OK=%s\nB_OK=%s\nA_VERSION="%s"\nB_VERSION="%s"\n_' \
        "$ORDER" "$A_TRIES" "$B_TRIES" "$A_BAD" "$B_BAD" "$A_OK" "$B_OK" "$A_VERSION" "$B_VERSION")
    _body=${_body%_}
    printf '%sSHA256=%s\n' "$_body" "$(printf '%s' "$_body" | sha256sum | cut -c1-64)"
}

# bs_write DEV: writes both copies (refuses values that would not read back).
bs_write() {
    _b=$(bs_body "$(bs_text)") && bs_parse_state "$_b" \
        || { echo "bootstate: refusing to write an invalid state" >&2; return 1; }
    for _blk in 0 1; do
        bs_text | dd of="$1" bs=4096 seek="$_blk" count=1 conv=sync,fsync,notrunc 2>/dev/null || return 1
    done
    sync
}

# bs_get SLOT KEY / bs_set SLOT KEY VALUE (KEY: TRIES BAD OK VERSION), without eval.
bs_get() {
    case "$1$2" in
        ATRIES) echo "$A_TRIES" ;; BTRIES) echo "$B_TRIES" ;;
        ABAD) echo "$A_BAD" ;; BBAD) echo "$B_BAD" ;;
        AOK) echo "$A_OK" ;; BOK) echo "$B_OK" ;;
        AVERSION) echo "$A_VERSION" ;; BVERSION) echo "$B_VERSION" ;;
        *) return 1 ;;
    esac
}
bs_set() {
    case "$1$2" in
        ATRIES) A_TRIES=$3 ;; BTRIES) B_TRIES=$3 ;;
        ABAD) A_BAD=$3 ;; BBAD) B_BAD=$3 ;;
        AOK) A_OK=$3 ;; BOK) B_OK=$3 ;;
        AVERSION) A_VERSION=$3 ;; BVERSION) B_VERSION=$3 ;;
        *) return 1 ;;
    esac
}

# --- provisioning record ------------------------------------------------------------------------------------------
# bs_prov_read DEV: 0 and PROV_DATE/PROV_ROOT_HASH set when the box has been provisioned; 1 otherwise.
bs_prov_read() {
    PROV_DATE= PROV_ROOT_HASH=
    _b=$(bs_body "$(bs_block "$1" 16)") || return 1
    _n=0 _d= _h= _hs=0
    while IFS= read -r _l; do
        _n=$((_n + 1))
        if [ "$_n" = 1 ]; then [ "$_l" = "OJSCOG-PROVISIONED 1" ] || return 1; continue; fi
        case "$_l" in
            DATE=*) _d=${_l#DATE=}; case "$_d" in *[!0-9TZ:-]*) return 1 ;; esac ;;
            ROOT_HASH=*) _h=${_l#ROOT_HASH=}; _hs=1
                case "$_h" in *[!A-Za-z0-9./\$]*) return 1 ;; esac
                case "$_h" in ''|'$6$'*'$'*) ;; *) return 1 ;; esac ;;
            '') ;;
            *) return 1 ;;
        esac
    done <<EOF
$_b
EOF
    [ -n "$_d" ] && [ "$_hs" = 1 ] || return 1
    PROV_DATE=$_d PROV_ROOT_HASH=$_h
}

# bs_prov_write DEV DATE ROOT_HASH
bs_prov_write() {
    _body=$(printf 'OJSCOG-PROVISIONED 1\nDATE=%s\nROOT_HASH=%s\n_' "$2" "$3")
    _body=${_body%_}
    printf '%sSHA256=%s\n' "$_body" "$(printf '%s' "$_body" | sha256sum | cut -c1-64)" \
        | dd of="$1" bs=4096 seek=16 count=1 conv=sync,fsync,notrunc 2>/dev/null || return 1
    sync
    bs_prov_read "$1" && [ "$PROV_ROOT_HASH" = "$3" ]
}
