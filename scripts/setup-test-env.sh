#!/usr/bin/env bash
# Installs and starts what the test suite needs on a fresh Debian 12 machine
# (run as root, as CI does). Idempotent: a warm machine skips every step.
set -euo pipefail

# axe-core (accessibility checks in the browser tests), outside the checkout;
# the tests find it at $AXE_DIR/node_modules/axe-core/axe.min.js (or $OJSCOG_AXE).
AXE_VERSION=4.14.1
AXE_DIR=/var/cache/ojscog/npm
have_axe() {
    [ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] &&
        grep -q "\"version\": \"$AXE_VERSION\"" "$AXE_DIR/node_modules/axe-core/package.json" 2>/dev/null
}

need_apt=()
# The browser tests: headless Chromium driven through chromedriver (WebDriver).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
[ -x /usr/bin/chromedriver ] || need_apt+=(chromium-driver)
have_axe || command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v mariadbd >/dev/null 2>&1 || need_apt+=(mariadb-server)
# Native builds (llama.cpp via llama-cpp-2: cmake + bindgen).
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v clang >/dev/null 2>&1 || need_apt+=(clang)
[ -e /usr/lib/llvm-14/lib/libclang.so ] || ls /usr/lib/llvm-*/lib/libclang*.so >/dev/null 2>&1 || need_apt+=(libclang-dev)
command -v unzip >/dev/null 2>&1 || need_apt+=(unzip)
# Voice: ALSA (opened at run time; the push-to-talk test uses its file plugin as microphone and speaker), and
# espeak-ng and sox for the spoken test set.
ls /usr/lib/*/libasound.so.2 >/dev/null 2>&1 || need_apt+=(libasound2)
[ -f /usr/share/alsa/alsa.conf ] || need_apt+=(libasound2-data)

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "setup: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # The prometheus package would start a server; nothing needs it, only promtool.
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! have_axe; then
    echo "setup: installing axe-core@$AXE_VERSION into $AXE_DIR"
    mkdir -p "$AXE_DIR"
    npm install --prefix "$AXE_DIR" --no-save --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION" >/dev/null
    have_axe
fi

# MariaDB: start it if it is not answering (the machine image starts it; CI may not).
if ! mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1; then
    echo "setup: starting MariaDB"
    mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
    for _ in $(seq 1 60); do
        mysqladmin -uroot -h127.0.0.1 ping >/dev/null 2>&1 && break
        sleep 1
    done
    mysqladmin -uroot -h127.0.0.1 ping >/dev/null
fi
# Throwaway databases left by interrupted earlier runs.
mysql -uroot -h127.0.0.1 -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'ojscog\_t\_%'" |
    while read -r db; do mysql -uroot -h127.0.0.1 -e "DROP DATABASE \`$db\`"; done
