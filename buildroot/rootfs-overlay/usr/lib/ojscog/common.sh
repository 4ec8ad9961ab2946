# shellcheck shell=sh
# Paths and helpers shared by the appliance scripts (sourced). The OJSCOG_* variables exist for the host-side tests
# in tests/image/ (scratch directories and loop devices); on the box they are unset and the defaults apply.
RUN=${OJSCOG_RUN:-/run/ojscog}
DATA_MNT=${OJSCOG_DATA:-/data}
ETC=${OJSCOG_ETC:-/etc}
CONSOLE=${OJSCOG_CONSOLE:-/dev/console}
LIB=${OJSCOG_LIB:-/usr/lib/ojscog}
BYLABEL=${OJSCOG_BYLABEL:-/dev/disk/by-partlabel}

# read_partitions: ROOTA ROOTB STATE DATA from $RUN/partitions (written by the initramfs; parsed, not sourced),
# else from the GPT names.
read_partitions() {
    ROOTA= ROOTB= STATE= DATA=
    if [ -f "$RUN/partitions" ]; then
        while IFS= read -r _l; do
            _v=${_l#*=}
            case "$_v" in /dev/*) ;; *) continue ;; esac
            case "$_v" in *[!A-Za-z0-9/_.-]*) continue ;; esac
            case "$_l" in
                ROOTA=*) ROOTA=$_v ;; ROOTB=*) ROOTB=$_v ;; STATE=*) STATE=$_v ;; DATA=*) DATA=$_v ;;
            esac
        done < "$RUN/partitions"
    fi
    [ -n "$ROOTA" ] || ROOTA=$(readlink -f "$BYLABEL/rootA" 2>/dev/null)
    [ -n "$ROOTB" ] || ROOTB=$(readlink -f "$BYLABEL/rootB" 2>/dev/null)
    [ -n "$STATE" ] || STATE=$(readlink -f "$BYLABEL/bootstate" 2>/dev/null)
    [ -n "$DATA" ] || DATA=$(readlink -f "$BYLABEL/data" 2>/dev/null)
    return 0
}

# data_mounted: /data is a mounted file system.
data_mounted() { grep -q " $DATA_MNT " /proc/mounts; }

# release_value KEY: a value of $ETC/ojscog-release (quotes removed).
release_value() { sed -n "s/^$1=//p" "$ETC/ojscog-release" 2>/dev/null | tr -d '"' | head -n 1; }

# release_newer A_VERSION A_BUILD B_VERSION B_BUILD: 0 when release A is newer than B: x.y.z numerically (what follows
# "+" or "-" does not order), then the build time (YYYYMMDDTHHMMSSZ) when both have one. Used by ojscog-update and
# the RAUC pre-install handler (older or the same release is refused unless forced).
release_newer() {
    awk -v a="$1" -v ab="$2" -v b="$3" -v bb="$4" 'BEGIN {
        sub(/[+-].*/, "", a); sub(/[+-].*/, "", b)
        split(a, x, "."); split(b, y, ".")
        for (i = 1; i <= 3; i++) { p = x[i] + 0; q = y[i] + 0; if (p > q) exit 0; if (p < q) exit 1 }
        if (ab != "" && bb != "" && ab > bb) exit 0
        exit 1 }'
}
