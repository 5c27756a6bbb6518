#!/bin/sh
# deps.sh - make sure the Debian packages xvm builds and tests with are present.
# As root, installs what is missing (apt-get); otherwise lists it and fails.
# usage: tools/deps.sh [--check]
set -eu
PKGS="meson ninja-build pkg-config gcc libc6-dev python3
 liburing-dev zlib1g-dev libsqlite3-dev systemtap-sdt-dev libjson-c-dev libseccomp-dev
 libxen-dev xenstore-utils qemu-system-x86 qemu-utils bpftrace lz4 cpio
 clang libclang-rt-14-dev iproute2 busybox-static acpica-tools"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "${1:-}" = --check ] || [ "$(id -u)" != 0 ]; then
    echo "xvm: missing Debian packages:$missing (run 'make deps' as root)" >&2
    exit 1
fi
echo "xvm: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
