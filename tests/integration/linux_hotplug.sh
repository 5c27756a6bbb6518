#!/bin/bash
# linux_hotplug.sh - ACPI PCI hotplug with real Linux (the guest kit's Debian 6.1 PVH
# vmlinux): hotplug-drive adds a raw disk holding a marker while Linux runs; Linux's
# acpiphp takes the GPE 1 / PCI_UP notification from xvm's DSDT, virtio_blk binds and
# /dev/vda reads the marker; on removal Linux takes the eject request, unbinds and calls
# _EJ0, and xvm reports the device gone (how=ejected). Runs directly on a VMX/SVM
# /dev/kvm; on a PVM host inside ../shared/nestlab/nestlab.sh (nested SVM), else skips.
# usage: linux_hotplug.sh HOTPLUG_DRIVE   (env: XVM_SRC)   exit 0 pass, 1 fail, 77 skip
set -uo pipefail
DRIVE=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${XVM_SRC:-$(cd "$HERE/../.." && pwd)}
. "$HERE/lib/linux_guest.sh"
skip() { echo "linux_hotplug: skipped: $*"; exit 77; }
fail() { echo "linux_hotplug: FAIL: $*"; [ -f "$W/out" ] && grep -a 'LH-' "$W/out" | tail -40 | sed 's/^/  | /'; exit 1; }
[ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
LAB=$SRC/../shared/nestlab/nestlab.sh
if [ -d /sys/module/kvm_pvm ]; then
    [ -f "$LAB" ] || skip "PVM host and no nestlab for a nested SVM /dev/kvm"
    MODE=nest
else
    MODE=direct
fi
command -v cpio >/dev/null || skip "cpio not installed"
KIT=${XDG_CACHE_HOME:-$HOME/.cache}/xvm/guest-kit-hotplug
XVM_VMLINUX=1 XVM_MODULES="virtio_pci virtio_blk" \
    "$SRC/tools/mkguest.sh" "$KIT" >/dev/null 2>&1 || skip "cannot build the guest kit (tools/mkguest.sh)"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

# /init2: report the hot-added disk (the lines hotplug-drive waits for), then its removal
{ lg_init2_prologue; cat <<'INIT'; } >"$W/init2"
echo "XR-SLOTS $(ls /sys/bus/pci/slots 2>/dev/null | wc -l)"
i=0; while [ ! -e /sys/block/vda ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
if [ -e /sys/block/vda ]; then
    echo "XR-VDA $(readlink /sys/block/vda)"
    pci=$(readlink /sys/block/vda | sed -n 's|.*/\(0000:00:[0-9a-f.]*\)/virtio.*|\1|p')
    echo "XTEST-HOTPLUG added dev=blk sector0=$(head -c 16 /dev/vda)"
    i=0; while [ -e /sys/block/vda ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    [ -e /sys/block/vda ] && echo "XR-VDA-STILL-THERE" || echo "XTEST-HOTPLUG gone vda"
    # acpiphp calls _EJ0 after the PCI device is gone: give it time before powering off
    i=0; while [ -n "$pci" ] && [ -e "/sys/bus/pci/devices/$pci" ] && [ $i -lt 300 ]; do
        sleep 0.1; i=$((i + 1)); done
    sleep 3
else
    echo "XR-NO-VDA"
fi
poweroff -f
INIT
chmod +x "$W/init2"
(cd "$W" && echo init2 | cpio -o -H newc -R 0:0 2>/dev/null | gzip -n >ovl.cpio.gz) || fail "cpio"
cat "$KIT/initramfs.cpio.gz" "$W/ovl.cpio.gz" >"$W/initrd.gz"

cat >"$W/run.sh" <<'RUN'
#!/bin/sh
D=$1 K=$2 I=$3 T=${4:-/tmp} EXTRA=${5:-}
dd if=/dev/zero of="$T/disk.raw" bs=1024 count=1024 2>/dev/null
printf 'XVM-HOTPLUG-OK!!' | dd of="$T/disk.raw" conv=notrunc 2>/dev/null
timeout 200 "$D" --linux "$K" "$I" "console=ttyS0 quiet panic=-1 rdinit=/init2 $EXTRA" "$T/con.log" \
    "$T/disk.raw,format=raw,id=hp0" >"$T/drive.out" 2>&1
echo "LH-STATUS $?"
sed 's/^/LH-DRIVE /' "$T/drive.out"
grep -a '^XR-\|^XTEST-HOTPLUG\|acpiphp\|pciehp\|virtio_blk' "$T/con.log" | tr -d '\r' | sed 's/^/LH-CON /'
RUN
chmod +x "$W/run.sh"
# the guest gets noxsave in the lab (see lg_nestlab)
if [ $MODE = nest ]; then
    lg_nestlab linux_hotplug "$W/out" LH-STATUS 300 --add "$DRIVE:/drive" --add "$W/run.sh:/run.sh" \
        --add "$KIT/vmlinux:/kit/vmlinux" --add "$W/initrd.gz:/kit/initrd.gz" \
        -- /run.sh /drive /kit/vmlinux /kit/initrd.gz /tmp noxsave ||
        skip "nestlab could not provide a nested /dev/kvm"
    rc=$LG_NEST_RC
else
    "$W/run.sh" "$DRIVE" "$KIT/vmlinux" "$W/initrd.gz" "$W" >"$W/out" 2>&1
    rc=$?
fi
grep -a 'LH-' "$W/out" | tr -d '\r' | sed 's/^.*LH-/  /'
[ $rc = 0 ] || fail "run script status $rc"
grep -aq 'LH-STATUS 0' "$W/out" || fail "hotplug-drive failed"
grep -aq 'LH-DRIVE bad-add rc=-2 ' "$W/out" || fail "a bad add did not fail cleanly"
slot=$(grep -a 'LH-DRIVE disk-add id=hp0 slot=' "$W/out" | sed 's/.*slot=\([0-9]*\).*/\1/' | tr -d '\r')
[ -n "$slot" ] || fail "disk-add did not report a slot"
grep -aq "LH-CON XR-VDA .*/0000:00:$(printf '%02x' "$slot").0/" "$W/out" ||
    fail "Linux's vda is not the device in slot $slot"
grep -aq 'LH-CON XTEST-HOTPLUG added dev=blk sector0=XVM-HOTPLUG-OK!!' "$W/out" ||
    fail "Linux did not read the marker from the hot-added disk"
grep -aq 'LH-DRIVE disk-remove how=ejected devices=0' "$W/out" || fail "Linux did not eject the disk"
grep -aq 'LH-CON XTEST-HOTPLUG gone vda' "$W/out" || fail "vda is still there after the eject"
grep -aq 'LH-DRIVE vm stop=0' "$W/out" || fail "Linux did not power off cleanly"
echo "linux_hotplug: PASS ($MODE): Linux took the disk in slot $slot (acpiphp), read it, ejected it"
exit 0
