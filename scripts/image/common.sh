# shellcheck shell=bash
# Helpers shared by scripts/build-aarch64.sh, scripts/build-image.sh, scripts/test-*.sh.
# Source it; it defines no behaviour of its own. OJSCOG_CACHE, log and die come from the image tree's own helpers.

. "$(dirname "${BASH_SOURCE[0]}")/../../buildroot/scripts/lib.sh"

_apt() {
    # dpkg/apt may be locked by another user of the machine: wait instead of failing.
    local i
    for i in $(seq 1 60); do
        if DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=60 "$@"; then
            return 0
        fi
        if ! fuser /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock >/dev/null 2>&1; then
            return 1
        fi
        log "apt is busy, retrying ($i)"
        sleep 10
    done
    return 1
}

_apt_updated=0
apt_update_once() {
    [ "$_apt_updated" = 1 ] && return 0
    _apt update -qq && _apt_updated=1
}

# is_installed PKG[:ARCH]
is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# ensure_pkgs [-t SUITE] PKG... : installs only what is missing (idempotent, no apt when all present).
ensure_pkgs() {
    local suite=()
    if [ "${1:-}" = "-t" ]; then suite=(-t "$2"); shift 2; fi
    local missing=() p
    for p in "$@"; do is_installed "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root or install them"
    log "installing ${missing[*]}"
    apt_update_once || true
    _apt install -y -qq --no-install-recommends "${suite[@]}" "${missing[@]}" >/dev/null \
        || { apt_update_once; _apt install -y -qq --no-install-recommends "${suite[@]}" "${missing[@]}"; }
}

# ensure_venv DIR IMPORTS PKG... : a Python venv at DIR (made once) in which `import IMPORTS` works.
ensure_venv() {
    local venv="$1" imports="$2"; shift 2
    if ! "$venv/bin/python" -c "import $imports" 2>/dev/null; then
        log "making a Python venv ($venv: $*)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
    fi
}

ensure_arm64_arch() {
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "adding dpkg architecture arm64"
        dpkg --add-architecture arm64
        _apt_updated=0
    fi
}

ensure_backports() {
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        log "adding bookworm-backports (qemu-system-arm must match the machine's qemu-utils from backports)"
        echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/ojscog-bpo.list
        _apt_updated=0
    fi
}

# Debian's Rust 1.96 (rustc-web) lives in /usr/bin; rustup's shims come first in PATH.
debian_cargo() {
    RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTUP_TOOLCHAIN= /usr/bin/cargo "$@"
}

# A sha256 of the inputs that decide an output, to know when a cached output is stale.
inputs_hash() {
    local f
    for f in "$@"; do
        if [ -d "$f" ]; then
            (cd "$f" && find . -type f -o -type l | LC_ALL=C sort | while read -r x; do
                printf '%s ' "$x"; if [ -L "$x" ]; then readlink "$x"; else sha256sum < "$x"; fi
            done)
        elif [ -e "$f" ]; then
            printf '%s ' "$f"; sha256sum < "$f"
        else
            printf '%s\n' "$f"
        fi
    done | sha256sum | cut -c1-16
}
