#!/usr/bin/env bash
# Creates (once) the RAUC signing key, certificate and keyring for test/development bundles in $OJSCOG_CACHE/rauc-keys.
# Never committed. A production key is created the same way on an offline machine and passed to
# scripts/build-image.sh with OJSCOG_RAUC_KEY / OJSCOG_RAUC_CERT / OJSCOG_RAUC_KEYRING.
set -euo pipefail
. "$(dirname "$0")/common.sh"
dir="$OJSCOG_CACHE/rauc-keys"
if [ ! -s "$dir/keyring.pem" ]; then
    mkdir -p "$dir"; chmod 700 "$dir"
    openssl req -x509 -newkey rsa:3072 -nodes -days 3650 -sha256 \
        -subj "/O=ojscog development/CN=ojscog test CA" \
        -keyout "$dir/ca.key.pem" -out "$dir/ca.cert.pem" 2>/dev/null
    openssl req -newkey rsa:3072 -nodes -sha256 -subj "/O=ojscog development/CN=ojscog test bundle signer" \
        -keyout "$dir/signer.key.pem" -out "$dir/signer.csr" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nsubjectKeyIdentifier=hash\n' > "$dir/ext.cnf"
    openssl x509 -req -in "$dir/signer.csr" -CA "$dir/ca.cert.pem" -CAkey "$dir/ca.key.pem" -CAcreateserial \
        -days 3650 -sha256 -extfile "$dir/ext.cnf" -out "$dir/signer.cert.pem" 2>/dev/null
    cp "$dir/ca.cert.pem" "$dir/keyring.pem"
    log "created RAUC test keys in $dir"
fi
echo "$dir"
