#!/usr/bin/env bash
# Creates (once) the RAUC signing key, certificate and keyring for test/development bundles in $OJSCOG_CACHE/rauc-keys
# (the user's cache, outside any build output). Never committed, never used for a release: builds with
# OJSCOG_RELEASE=1 refuse to run this and need OJSCOG_RAUC_KEY / OJSCOG_RAUC_CERT / OJSCOG_RAUC_KEYRING (a production
# CA made on an offline machine; see board/README.md).
# The development CA's private key exists only while the signer certificate is issued, then it is deleted: what
# remains is the CA certificate (the keyring), the signer's key and certificate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
[ "${OJSCOG_RELEASE:-0}" = 1 ] && die "OJSCOG_RELEASE=1: development keys are not used for a release (set OJSCOG_RAUC_KEY, OJSCOG_RAUC_CERT, OJSCOG_RAUC_KEYRING)"
dir="$OJSCOG_CACHE/rauc-keys"
if [ ! -s "$dir/keyring.pem" ] || [ ! -s "$dir/signer.key.pem" ]; then
    rm -rf "$dir"; mkdir -p "$dir"; chmod 700 "$dir"
    ca=$(mktemp -d); trap 'rm -rf "$ca"' EXIT
    openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -sha256 \
        -subj "/O=ojscog development/CN=ojscog test CA" \
        -keyout "$ca/ca.key.pem" -out "$dir/ca.cert.pem" 2>/dev/null
    openssl req -newkey rsa:3072 -nodes -sha256 -subj "/O=ojscog development/CN=ojscog test bundle signer" \
        -keyout "$dir/signer.key.pem" -out "$ca/signer.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nsubjectKeyIdentifier=hash\n' > "$ca/ext.cnf"
    openssl x509 -req -in "$ca/signer.csr" -CA "$dir/ca.cert.pem" -CAkey "$ca/ca.key.pem" -CAcreateserial \
        -CAserial "$ca/ca.srl" -days 3650 -sha256 -extfile "$ca/ext.cnf" -out "$dir/signer.cert.pem" 2>/dev/null
    cp "$dir/ca.cert.pem" "$dir/keyring.pem"
    log "created RAUC development keys in $dir (the CA key was used once and deleted)"
fi
# Caches made by older versions of this script kept the CA key: remove it.
rm -f "$dir/ca.key.pem" "$dir/signer.csr" "$dir/ca.cert.srl"
echo "$dir"
