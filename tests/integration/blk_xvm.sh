#!/bin/bash
# blk_xvm.sh - virtio-blk end to end: the test guest's driver writes, reads back,
# flushes and zeroes through xvm on raw and qcow2 images; the host checks the
# images with qemu-img (check, compare), a qcow2 overlay reads its backing file,
# read-only disks stay untouched, and two disks are told apart.
# usage: blk_xvm.sh XVM TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$1 ELF=$2
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
command -v qemu-img >/dev/null && command -v qemu-io >/dev/null ||
    { echo "SKIP: qemu-img/qemu-io (qemu-utils) not installed"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# run NAME CMDLINE DISK... : boot, require exit 0 and the blk line to PASS
run() {
    local name=$1 cmd=$2; shift 2
    local args=()
    for d in "$@"; do args+=(--disk "$d"); done
    timeout 120 "$XVM" run --kernel "$ELF" --memory 64M "${args[@]}" --console "file:$T/$name.log" \
        --cmdline "tests=blk $cmd" </dev/null 2>"$T/$name.err"
    local rc=$?
    local line; line=$(grep '^XTEST blk' "$T/$name.log")
    [ $rc = 0 ] || fail "$name: xvm exit $rc: $(cat "$T/$name.err") $line"
    grep -q '^XTEST blk PASS' <<<"$line" || fail "$name: $line"
    echo "ok   $name: ${line#XTEST blk PASS }"
}

qemu-img create -q -f raw "$T/a.raw" 64M
qemu-img create -q -f qcow2 "$T/a.qcow2" 64M
run raw "blk.seed=42" "$T/a.raw,id=vol-raw"
grep -q 'id=vol-raw' "$T/raw.log" || fail "GET_ID did not return the id= of the disk"
run qcow2 "blk.seed=42" "$T/a.qcow2"
qemu-img check -q "$T/a.qcow2" || fail "qemu-img check reports errors on the image xvm wrote"
qemu-img compare -q "$T/a.raw" "$T/a.qcow2" || fail "raw and qcow2 differ after the same guest writes"
echo "ok   qemu-img check clean, raw and qcow2 images identical"

# a qcow2 overlay on a base holding 0xab at 512 KiB: reads come from the base,
# writes land in the overlay, the base is unchanged
qemu-img create -q -f qcow2 "$T/base.qcow2" 64M
qemu-io -c "write -q -P 0xab 512k 4k" "$T/base.qcow2" >/dev/null
sum=$(md5sum <"$T/base.qcow2")
qemu-img create -q -f qcow2 -b "$T/base.qcow2" -F qcow2 "$T/top.qcow2"
run overlay "blk.expect=0xab blk.seed=7" "$T/top.qcow2"
[ "$(md5sum <"$T/base.qcow2")" = "$sum" ] || fail "the backing file was modified"
qemu-img check -q "$T/top.qcow2" || fail "qemu-img check reports errors on the overlay"
echo "ok   overlay read its backing file, base untouched"

# read-only: writes fail in the guest, the file does not change
sum=$(md5sum <"$T/a.raw")
run readonly "" "$T/a.raw,readonly"
grep -q 'ro=enforced' "$T/readonly.log" || fail "read-only disk accepted a write"
[ "$(md5sum <"$T/a.raw")" = "$sum" ] || fail "read-only image changed"

# two disks: the second one is the read-only qcow2, found as blk.dev=1
run twodisks "blk.dev=1" "$T/a.raw,id=first" "$T/a.qcow2,readonly,id=second"
grep -q 'id=second' "$T/twodisks.log" || fail "blk.dev=1 did not reach the second disk"

# a hostile driver: six malformed chains each put the disk into NEEDS_RESET
# with one warning line; the VMM keeps running and the disk works after a reset
timeout 120 "$XVM" run --kernel "$ELF" --memory 64M --disk "$T/a.raw" --console "file:$T/hostile.log" \
    --cmdline "tests=blkhostile" </dev/null 2>"$T/hostile.err" || fail "hostile: xvm exit $?: $(cat "$T/hostile.err")"
grep -q '^XTEST blkhostile PASS flagged=6/6 after_reset_read=0' "$T/hostile.log" ||
    fail "hostile: $(grep '^XTEST blkhostile' "$T/hostile.log")"
[ "$(grep -c 'device needs reset' "$T/hostile.err")" = 6 ] || fail "hostile: want 6 needs-reset lines: $(cat "$T/hostile.err")"
echo "ok   hostile chains: 6/6 flagged NEEDS_RESET, one line each, disk usable after reset"

# the thread-pool engine gives the same result as io_uring
XVM_BLOCK_ENGINE=threads run threads "blk.seed=42" "$T/a.qcow2"
qemu-img compare -q "$T/a.raw" "$T/a.qcow2" || fail "thread engine: images differ"
echo "ok   thread-pool engine"
exit 0
