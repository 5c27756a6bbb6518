#!/bin/bash
# hotplug_xvm.sh - ACPI PCI hotplug end to end with the test guest
# (tests=hotplug): a raw disk holding a known marker is added while the
# guest runs, the guest finds it through GPE 1 / PCI_UP, reads sector 0 and
# prints the marker; on removal it sees PCI_DOWN, ejects, and the slot
# empties; the device list is empty again. Bad input first: an add with a
# missing image fails with a one-line error and adds nothing; removing an
# unknown id fails. Driven by hotplug-drive (vmm/hotplug.c's API directly;
# the control socket's disk-add/-remove: hotplug_ctl.sh). Then, as root with
# network namespaces, a NIC on a new tap the same way (the guest prints its
# MAC; the tap is gone after the removal); skipped with a reason otherwise.
# usage: hotplug_xvm.sh HOTPLUG_DRIVE TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
DRIVE=$1 ELF=$2
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; sed 's/^/  out| /' "$T/out"; sed 's/^/  con| /' "$T/con.log"; exit 1; }

# sector 0 begins with a marker the guest prints back
head -c 1048576 /dev/zero >"$T/disk.raw"
printf 'XVM-HOTPLUG-OK!!' | dd of="$T/disk.raw" conv=notrunc status=none
timeout 100 "$DRIVE" "$ELF" "$T/con.log" "$T/disk.raw,format=raw,id=hp0" >"$T/out" 2>"$T/err"
rc=$?
cat "$T/err" >>"$T/out"
[ $rc = 0 ] || fail "driver exit $rc"
grep -q '^bad-add rc=-2 err=disk .*/nonexistent/none.img.*No such file or directory devices=0$' "$T/out" ||
    fail "a bad add did not fail cleanly"
echo "ok   bad path: $(grep '^bad-add' "$T/out")"
grep -q '^bad-remove rc=-2$' "$T/out" || fail "removing an unknown id did not fail"
echo "ok   unknown id: -ENOENT"
slot=$(sed -n 's/^disk-add id=hp0 slot=\([0-9]*\)$/\1/p' "$T/out")
[ -n "$slot" ] || fail "disk-add did not report a slot"
grep -q "^XTEST-HOTPLUG added slot=$slot dev=blk sector0=XVM-HOTPLUG-OK!!" "$T/con.log" ||
    fail "the guest did not read the marker from slot $slot"
echo "ok   guest saw slot $slot and read: XVM-HOTPLUG-OK!!"
grep -q "^XTEST-HOTPLUG ejected slot=$slot" "$T/con.log" || fail "the guest did not eject"
grep -q '^disk-remove how=ejected devices=0$' "$T/out" || fail "the disk was not removed on eject"
grep -q "^XTEST-HOTPLUG gone slot=$slot" "$T/con.log" || fail "the guest still sees slot $slot"
grep -q '^XTEST hotplug PASS' "$T/con.log" || fail "guest test did not pass"
grep -q '^vm stop=0$' "$T/out" || fail "the guest did not power off cleanly"
echo "ok   eject: device gone, guest saw the slot empty, clean power-off"

# a NIC: needs root, /dev/net/tun and a network namespace for the tap
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
    echo "skip nic: needs root, /dev/net/tun and ip (iproute2)"; exit 0
fi
NS=xvmhp$$
ip netns add "$NS" 2>/dev/null || { echo "skip nic: cannot create a network namespace"; exit 0; }
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T"' EXIT
rm -f "$T/con.log"
timeout 100 ip netns exec "$NS" "$DRIVE" "$ELF" "$T/con.log" "$T/disk.raw,format=raw,id=hp0" \
    "tap=hptap0,mac=52:54:00:12:34:56,id=n0" >"$T/out" 2>"$T/err"
rc=$?
cat "$T/err" >>"$T/out"
[ $rc = 0 ] || fail "driver exit $rc (nic run)"
nslot=$(sed -n 's/^nic-add id=n0 slot=\([0-9]*\)$/\1/p' "$T/out")
[ -n "$nslot" ] || fail "nic-add did not report a slot"
grep -q "^XTEST-HOTPLUG added slot=$nslot dev=net mac=52:54:00:12:34:56" "$T/con.log" ||
    fail "the guest did not see the NIC's MAC in slot $nslot"
grep -q '^nic-remove how=ejected devices=0$' "$T/out" || fail "the NIC was not removed on eject"
grep -q "^XTEST-HOTPLUG gone slot=$nslot" "$T/con.log" || fail "the guest still sees slot $nslot"
ip netns exec "$NS" ip link show hptap0 >/dev/null 2>&1 && fail "the tap xvm made outlived the NIC"
grep -q '^XTEST hotplug PASS' "$T/con.log" || fail "guest test did not pass (nic run)"
echo "ok   nic: guest saw slot $nslot with mac 52:54:00:12:34:56, ejected, tap gone"
