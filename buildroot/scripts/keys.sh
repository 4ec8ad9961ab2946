# shellcheck shell=bash
# Chooses the RAUC keys and the update channel's keys for a build (sourced by mkbundle.sh, build-image.sh, the
# Buildroot post scripts).
#   rauc_keys   sets RAUC_KEY RAUC_CERT RAUC_KEYRING RAUC_KEYS_KIND (production|development)
#   update_keys sets UPDATE_KEYS (a directory of minisign *.pub files, baked into /etc/ojscog/update-keys) and
#               UPDATE_KEYS_KIND (production|development)
# OJSCOG_RELEASE=1 (a release build): OJSCOG_RAUC_KEY, OJSCOG_RAUC_CERT and OJSCOG_RAUC_KEYRING must all be set,
# and the keyring must not be the development CA; there is no fallback to development keys.
# Otherwise: those variables where set, else the development keys of buildroot/scripts/rauc-keys.sh.
is_dev_keyring() { openssl x509 -in "$1" -noout -subject 2>/dev/null | grep -q 'ojscog development'; }
rauc_keys() {
    local here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    if [ "${OJSCOG_RELEASE:-0}" = 1 ]; then
        [ -n "${OJSCOG_RAUC_KEY:-}" ] && [ -n "${OJSCOG_RAUC_CERT:-}" ] && [ -n "${OJSCOG_RAUC_KEYRING:-}" ] \
            || die "release build (OJSCOG_RELEASE=1) without a production keyring: set OJSCOG_RAUC_KEY, OJSCOG_RAUC_CERT and OJSCOG_RAUC_KEYRING"
        [ -s "$OJSCOG_RAUC_KEYRING" ] || die "release build: no keyring at $OJSCOG_RAUC_KEYRING"
        is_dev_keyring "$OJSCOG_RAUC_KEYRING" && die "release build: $OJSCOG_RAUC_KEYRING is the development CA"
        RAUC_KEY=$OJSCOG_RAUC_KEY RAUC_CERT=$OJSCOG_RAUC_CERT RAUC_KEYRING=$OJSCOG_RAUC_KEYRING RAUC_KEYS_KIND=production
        return 0
    fi
    local dev=""
    if [ -z "${OJSCOG_RAUC_KEY:-}" ] || [ -z "${OJSCOG_RAUC_CERT:-}" ] || [ -z "${OJSCOG_RAUC_KEYRING:-}" ]; then
        dev=$("$here/rauc-keys.sh")
    fi
    RAUC_KEY=${OJSCOG_RAUC_KEY:-$dev/signer.key.pem}
    RAUC_CERT=${OJSCOG_RAUC_CERT:-$dev/signer.cert.pem}
    RAUC_KEYRING=${OJSCOG_RAUC_KEYRING:-$dev/keyring.pem}
    RAUC_KEYS_KIND=production
    is_dev_keyring "$RAUC_KEYRING" && RAUC_KEYS_KIND=development
    return 0
}

# A minisign public key file made by update-keys.sh (its comment says DEVELOPMENT).
is_dev_update_key() { head -n 1 "$1" | grep -q 'DEVELOPMENT'; }
update_keys() {
    local here f n=0
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    if [ "${OJSCOG_RELEASE:-0}" = 1 ] && [ -z "${OJSCOG_UPDATE_KEYS:-}" ]; then
        die "release build (OJSCOG_RELEASE=1) without update channel keys: set OJSCOG_UPDATE_KEYS to a directory of minisign .pub files"
    fi
    UPDATE_KEYS=${OJSCOG_UPDATE_KEYS:-}
    [ -n "$UPDATE_KEYS" ] || UPDATE_KEYS=$("$here/update-keys.sh")
    UPDATE_KEYS_KIND=production
    for f in "$UPDATE_KEYS"/*.pub; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        is_dev_update_key "$f" && UPDATE_KEYS_KIND=development
    done
    [ "$n" -gt 0 ] || die "no update channel keys (*.pub) in $UPDATE_KEYS"
    if [ "${OJSCOG_RELEASE:-0}" = 1 ] && [ "$UPDATE_KEYS_KIND" = development ]; then
        die "release build: $UPDATE_KEYS holds the development update key"
    fi
    return 0
}
