#!/bin/sh
# Writes the factory boot-state partition image (1 MiB): slot A first, both slots confirmed and carrying VERSION.
#   mkbootstate.sh VERSION OUT
# Uses the same code as the initramfs and ojscog-slot (rootfs-overlay/usr/lib/ojscog/bootstate.sh).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../rootfs-overlay/usr/lib/ojscog/bootstate.sh"
version=$1 out=$2
bs_version_ok "$version" || { echo "mkbootstate: bad version '$version'" >&2; exit 2; }
rm -f "$out"
truncate -s 1M "$out"
bs_defaults
A_VERSION=$version B_VERSION=$version
bs_write "$out"
bs_read "$out" || { echo "mkbootstate: $out does not read back" >&2; exit 1; }
