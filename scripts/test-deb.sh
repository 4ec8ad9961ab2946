#!/usr/bin/env bash
# The server install's package, tested on this machine (root): scripts/build-deb.sh --profile dev packages the binary
# the tests built; dpkg -i installs it; the checks below look at what a server's admin gets (user, modes, tokens,
# config check, the unit, the service running from the package as its user); dpkg -r keeps config and data, and
# dpkg --purge leaves nothing. systemd is not PID 1 here, so the maintainer scripts' systemctl parts are skipped
# (they test for /run/systemd/system, as debhelper's do) and the service is started by hand, as the unit would.
# Last line: "deb: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/image/common.sh

[ "$(id -u)" = 0 ] || die "scripts/test-deb.sh installs a package: run it as root"
if is_installed ojscog; then
    die "an ojscog package is installed on this machine already; this test would replace and purge it"
fi
pass=0
fail=0
check() {
    local name="$1"
    shift
    if "$@" >/tmp/ojscog-deb-check.log 2>&1; then
        pass=$((pass + 1))
        echo "deb: ok   $name"
    else
        fail=$((fail + 1))
        echo "deb: FAIL $name"
        sed 's/^/    /' /tmp/ojscog-deb-check.log | tail -20
    fi
}
mode_owner() { [ "$(stat -c '%a %U:%G' "$1")" = "$2" ] || { stat -c '%a %U:%G %n' "$1"; return 1; }; }
absent() { [ ! -e "$1" ] || { ls -ld "$1"; return 1; }; }

deb="$(bash scripts/build-deb.sh --profile dev)" || die "the package did not build"
log "package: $deb ($(du -h "$deb" | cut -f1))"
trap 'dpkg --purge ojscog >/dev/null 2>&1 || true' EXIT
# Depends from the package itself (dpkg -i does not fetch them).
ensure_pkgs adduser curl espeak-ng-data $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\(.*\)//; s/\|.*//' | tr -d ' ' | grep -v '^$')

check "dpkg -i installs it" dpkg -i "$deb"
check "the binary runs" /usr/bin/ojscog --version
check "its native libraries come from the package" bash -c \
    'l=$(ldd /usr/bin/ojscog); echo "$l" | grep -Eq "libncnn.* => /usr/(bin/\.\./)?lib/ojscog/" && echo "$l" | grep -Eq "libsherpa-onnx-c-api.so => /usr/(bin/\.\./)?lib/ojscog/sherpa/" && ! echo "$l" | grep -q "not found" || { echo "$l"; false; }'
check "a system user ojscog owns the data directory" bash -c \
    'getent passwd ojscog | grep -q ":/var/lib/ojscog:" && [ "$(id -u ojscog)" -lt 1000 ]'
check "/var/lib/ojscog is 0750 ojscog:ojscog" mode_owner /var/lib/ojscog "750 ojscog:ojscog"
check "/etc/ojscog/config.toml is 0640 root:ojscog" mode_owner /etc/ojscog/config.toml "640 root:ojscog"
check "/etc/ojscog/tokens.env is 0640 root:ojscog" mode_owner /etc/ojscog/tokens.env "640 root:ojscog"
check "the tokens are long, random and differ" bash -c \
    '. /etc/ojscog/tokens.env && [ ${#OJSCOG_WEB_ADMIN_TOKEN} -ge 32 ] && [ ${#OJSCOG_WEB_READ_TOKEN} -ge 32 ] && [ "$OJSCOG_WEB_ADMIN_TOKEN" != "$OJSCOG_WEB_READ_TOKEN" ]'
check "config check passes as the service's user" bash -c \
    'set -a; . /etc/ojscog/tokens.env; set +a; runuser -u ojscog --preserve-environment -- /usr/bin/ojscog config check'
check "the effective config is the package's" bash -c \
    'runuser -u ojscog -- /usr/bin/ojscog config show | grep -q "data_dir = \"/var/lib/ojscog\""'
check "the unit is installed and systemd-analyze verify has nothing to say about it" bash -c \
    'out=$(systemd-analyze verify /lib/systemd/system/ojscog.service 2>&1); echo "$out"; ! echo "$out" | grep -q ojscog.service'
check "the unit is enabled for multi-user.target" test -L /etc/systemd/system/multi-user.target.wants/ojscog.service
check "the conffile is registered" bash -c 'dpkg-query -W -f="\${Conffiles}" ojscog | grep -q /etc/ojscog/config.toml'

# The service as the unit runs it (its user, its config, its tokens), on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
(
    set -a
    . /etc/ojscog/tokens.env
    set +a
    cd /var/lib/ojscog
    exec runuser -u ojscog --preserve-environment -- env OJSCOG_WEB_LISTEN="127.0.0.1:$port" /usr/bin/ojscog serve
) >/tmp/ojscog-deb-serve.log 2>&1 &
serve_pid=$!
served() {
    for _ in $(seq 1 120); do
        curl -fsS "http://127.0.0.1:$port/health" && return 0
        sleep 0.5
    done
    cat /tmp/ojscog-deb-serve.log
    return 1
}
check "the service runs from the package as its user and answers /health" served
check "it keeps its store in /var/lib/ojscog, owned by its user" bash -c \
    '[ "$(stat -c %U /var/lib/ojscog/ojscog.sqlite3)" = ojscog ]'
check "the read token from tokens.env signs in" bash -c \
    ". /etc/ojscog/tokens.env; curl -fsS -H \"Authorization: Bearer \$OJSCOG_WEB_READ_TOKEN\" http://127.0.0.1:$port/api/submissions >/dev/null"
pkill -TERM -f "ojscog serve" -u ojscog
for _ in $(seq 1 40); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.25; done
check "it stops on SIGTERM" bash -c "! kill -0 $serve_pid 2>/dev/null"

check "dpkg -r removes it" dpkg -r ojscog
check "the binary, the libraries and the unit are gone" bash -c \
    '[ ! -e /usr/bin/ojscog ] && [ ! -e /usr/lib/ojscog ] && [ ! -e /lib/systemd/system/ojscog.service ]'
check "config, tokens and data are kept after a remove" bash -c \
    '[ -f /etc/ojscog/config.toml ] && [ -f /etc/ojscog/tokens.env ] && [ -f /var/lib/ojscog/ojscog.sqlite3 ]'
check "dpkg --purge removes them" dpkg --purge ojscog
check "nothing is left: config, data, user, group, unit links" bash -c \
    '[ ! -e /etc/ojscog ] && [ ! -e /var/lib/ojscog ] && ! getent passwd ojscog && ! getent group ojscog &&
     [ -z "$(find /etc/systemd/system -name "ojscog*" 2>/dev/null)" ]'
check "dpkg knows nothing of it" bash -c '! dpkg-query -W ojscog 2>/dev/null | grep -q .'
echo "deb: $pass passed, $fail failed"
[ "$fail" = 0 ]
