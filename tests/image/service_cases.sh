# shellcheck shell=bash
# Sourced by tests/image/appliance_test.sh: run-service and healthwatch.

# run-service: tokens and fd limit reach the service (a stand-in binary that records what it was given).
mkbox service 4 0
mount -t tmpfs tmpfs "$BOX/data"
mkdir -p "$BOX/data/etc/ojscog" "$BOX/etc/ojscog" "$BOX/out"
chmod 0777 "$BOX/out"
printf 'data_dir = "/data/ojscog"\n[web]\nlisten = "0.0.0.0:8080"\n' > "$BOX/etc/ojscog/config.toml"
printf '%s\n' "$(printf 'a%.0s' $(seq 48))" > "$BOX/data/etc/admin-token"
printf '%s\n' "$(printf 'b%.0s' $(seq 48))" > "$BOX/data/etc/read-token"
fake=$BOX/fake-ojscog-records-its-environment
printf '#!/bin/sh\n{ echo "ADMIN=$OJSCOG_WEB_ADMIN_TOKEN"; echo "READ=$OJSCOG_WEB_READ_TOKEN"; echo "NOFILE=$(ulimit -n)"; echo "UID=$(id -u)"; echo "ARGS=$*"; } > %s/out/env\n' "$BOX" > "$fake"
chmod 0755 "$fake"
(ulimit -Sn 1024; boxenv env OJSCOG_BIN="$fake" OJSCOG_RUN_AS=nobody busybox sh "$LIBEXEC/run-service" > "$BOX/run-service.out" 2>&1)
env_out=$(cat "$BOX/out/env" 2>/dev/null)
check "run-service passes the admin token" grep -qx "ADMIN=$(printf 'a%.0s' $(seq 48))" <<< "$env_out"
check "run-service passes the read token as OJSCOG_WEB_READ_TOKEN" grep -qx "READ=$(printf 'b%.0s' $(seq 48))" <<< "$env_out"
check "run-service raises the fd limit to 4096 (from 1024)" grep -qx "NOFILE=4096" <<< "$env_out"
check "run-service runs the service as the service user" grep -qx "UID=$(id -u nobody)" <<< "$env_out"
printf '[web]\nread_token = "mine"\n' > "$BOX/data/etc/ojscog/config.toml"
(boxenv env OJSCOG_BIN="$fake" OJSCOG_RUN_AS=nobody busybox sh "$LIBEXEC/run-service" > /dev/null 2>&1)
check "a config with its own read_token gets no read token from the file" grep -qx "READ=" "$BOX/out/env"
umount "$BOX/data"

# healthwatch: a broken /data does not make a confirmed slot bad (no A/B reboot loop); an unconfirmed one is.
if grep -q OJSCOG_REBOOT "$LIBEXEC/healthwatch"; then
    mkbox health 4 0
    busybox sh buildroot/board/common/mkbootstate.sh 1.0.0 "$BOX/factory.img" && dd if="$BOX/factory.img" of="$BOOTSTATE" conv=fsync status=none
    echo A > "$BOX/run/booted-slot"
    echo "failed: has no ext4 superblock and is not blank" > "$BOX/run/data-state"
    mkdir -p "$BOX/etc/ojscog" "$BOX/data/etc/ojscog"
    printf 'HEALTH_PORT=9\nBOOT_GRACE=0\n' > "$BOX/etc/ojscog/healthwatch.conf"
    hw() {
        boxenv env OJSCOG_REBOOT="touch $BOX/rebooted" OJSCOG_WATCHDOG_DEV=/nonexistent \
            OJSCOG_SLOT_CMD="env OJSCOG_RUN=$BOX/run OJSCOG_LIB=$OJSCOG_LIB busybox sh $SBIN/ojscog-slot" \
            busybox sh "$LIBEXEC/healthwatch" --once > "$BOX/healthwatch.out" 2>&1
    }
    slotq() { boxenv busybox sh "$SBIN/ojscog-slot" "$@" 2>/dev/null; }
    hw
    check "broken /data on a confirmed slot: no reboot" [ ! -e "$BOX/rebooted" ]
    check "broken /data on a confirmed slot: the slot is not marked bad" [ "$(slotq get-state A)" = good ]
    check "broken /data on a confirmed slot: said on the console" grep -q "NOT marked bad" "$BOX/console"
    # A just-installed (unconfirmed) slot with a broken /data falls back as before.
    OJSCOG_LIB=$OJSCOG_LIB busybox sh -c '. "$OJSCOG_LIB/bootstate.sh"; bs_read "$1"; A_OK=0; bs_write "$1"' sh "$BOOTSTATE"
    hw
    check "broken /data on an unconfirmed slot: marked bad and rebooted" bash -c "[ -e '$BOX/rebooted' ] && [ \"\$(OJSCOG_RUN=$BOX/run busybox sh $SBIN/ojscog-slot get-state A)\" = bad ]"
    # The /data override is parsed, not sourced.
    rm -f "$BOX/rebooted"
    printf 'BOOT_GRACE=0; touch %s/pwned\nINTERVAL=$(touch %s/pwned)\n' "$BOX" "$BOX" > "$BOX/data/etc/ojscog/healthwatch.conf"
    mount --bind "$BOX/data" "$BOX/data" 2>/dev/null
    hw
    umount "$BOX/data" 2>/dev/null
    check "healthwatch.conf on /data is parsed, never run" [ ! -e "$BOX/pwned" ]
    # The maintenance window: an installed system update boots only in REBOOT_HOUR (a healthy service answers
    # /health here: a small HTTP server on loopback).
    mkdir -p "$tmp/healthsrv"; echo '{"status":"ok"}' > "$tmp/healthsrv/health"
    hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    python3 -m http.server --bind 127.0.0.1 "$hport" --directory "$tmp/healthsrv" > /dev/null 2>&1 &
    hsrv=$!
    for _ in $(seq 1 50); do (echo > /dev/tcp/127.0.0.1/$hport) 2> /dev/null && break; sleep 0.1; done
    rm -f "$BOX/rebooted" "$BOX/data/etc/ojscog/healthwatch.conf"
    echo 5 > "$BOX/run/ready"
    touch "$BOX/run/system-update-installed"
    hour=$(date +%H | sed 's/^0//')
    printf 'HEALTH_PORT=%s\nREBOOT_HOUR=%s\n' "$hport" $(( (hour + 12) % 24 )) > "$BOX/etc/ojscog/healthwatch.conf"
    hw
    check "an installed system update outside the maintenance hour: no reboot" [ ! -e "$BOX/rebooted" ]
    printf 'HEALTH_PORT=%s\nREBOOT_HOUR=24\n' "$hport" > "$BOX/etc/ojscog/healthwatch.conf"
    hw
    check "REBOOT_HOUR=24: an installed system update waits for the admin" [ ! -e "$BOX/rebooted" ]
    printf 'HEALTH_PORT=%s\nREBOOT_HOUR=%s\n' "$hport" "$(date +%H | sed 's/^0//')" > "$BOX/etc/ojscog/healthwatch.conf"
    hw
    check "in the maintenance hour (healthwatch.conf REBOOT_HOUR) the box reboots into the installed update" \
        bash -c "[ -e '$BOX/rebooted' ] && grep -q 'maintenance hour' '$BOX/console'"
    rm -f "$BOX/rebooted" "$BOX/run/system-update-installed"
    printf 'HEALTH_PORT=%s\nREBOOT_HOUR=24\n' "$hport" > "$BOX/etc/ojscog/healthwatch.conf"
    mkdir -p "$BOX/data/ojscog/update/system"; echo 1 > "$BOX/data/ojscog/update/system/reboot"
    hw
    check "the admin's reboot request (update/system/reboot) reboots at once and is used up" \
        bash -c "[ -e '$BOX/rebooted' ] && [ ! -e '$BOX/data/ojscog/update/system/reboot' ]"
    kill "$hsrv" 2> /dev/null; wait "$hsrv" 2> /dev/null
else
    bad "healthwatch has no test seam (OJSCOG_REBOOT): not run, it would reboot this machine"
fi
