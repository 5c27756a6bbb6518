#!/bin/bash
# linux_panic.sh - real Linux (the guest kit's Debian 6.1 PVH vmlinux) under `xvm run`:
# its virtio_rng driver binds and /dev/hwrng gives 4 KiB, its pvpanic-pci driver binds, and
# a kernel panic (sysrq c, panic=-1) ends the run with status 3 and
# "xvm: guest crashed: pvpanic: guest kernel panicked"; its virtio_console driver binds to
# --vconsole, names the port (org.xvm.test, a /dev/vportNp1 char device) and what it writes to hvc0
# (console port 0) reaches the --console log; with --no-pvpanic the same panic is
# only a reboot (status 2). Runs directly on a VMX/SVM /dev/kvm; on a PVM host inside
# ../shared/nestlab/nestlab.sh (nested SVM, ~1 min), else skips.
# usage: linux_panic.sh XVM   (env: XVM_SRC, XVM_PANIC_KIT kit dir, LP_KEEP=FILE keeps the
# raw output)   exit 0 pass, 1 fail, 77 skip
set -uo pipefail
XVM=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${XVM_SRC:-$(cd "$HERE/../.." && pwd)}
. "$HERE/lib/linux_guest.sh"
skip() { echo "linux_panic: skipped: $*"; exit 77; }
fail() { echo "linux_panic: FAIL: $*"; exit 1; }
[ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
LAB=$SRC/../shared/nestlab/nestlab.sh
if [ -d /sys/module/kvm_pvm ]; then
    [ -x "$LAB" ] || [ -f "$LAB" ] || skip "PVM host and no nestlab for a nested SVM /dev/kvm"
    MODE=nest
else
    MODE=direct
fi
command -v cpio >/dev/null || skip "cpio not installed"

# the kit, with the pvpanic-pci module (not in the default list)
KIT=${XVM_PANIC_KIT:-${XDG_CACHE_HOME:-$HOME/.cache}/xvm/guest-kit-pvpanic}
XVM_VMLINUX=1 XVM_MODULES="virtio_pci virtio_rng pvpanic_pci virtio_console" \
    "$SRC/tools/mkguest.sh" "$KIT" >/dev/null 2>&1 || skip "cannot build the guest kit (tools/mkguest.sh)"
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT

# /init2 appended to the kit's initramfs: load the modules, report, panic
{ lg_init2_prologue; cat <<'INIT'; } >"$W/init2"
echo "XR-RNG-CURRENT $(cat /sys/class/misc/hw_random/rng_current 2>&1)"
dd if=/dev/hwrng of=/tmp/r bs=4096 count=1 2>/dev/null
echo "XR-RNG-BYTES $(wc -c </tmp/r) $(od -An -tx1 -N8 /tmp/r | tr -d ' \n')"
echo "XR-PVPANIC $(ls -d /sys/bus/pci/drivers/pvpanic-pci/0000:* 2>/dev/null | wc -l)"
i=0; while [ ! -e /dev/hvc0 ] && [ $i -lt 30 ]; do sleep 0.1; i=$((i + 1)); done
i=0; while ! cat /sys/class/virtio-ports/vport*/name 2>/dev/null | grep -q . && [ $i -lt 30 ]; do
    sleep 0.1; i=$((i + 1)); done
echo "XR-VPORTS $(for p in /sys/class/virtio-ports/vport*; do [ -e "$p/name" ] &&
    echo "${p##*/}=$(cat "$p/name")$( [ -c "/dev/${p##*/}" ] && echo ,dev)"; done | tr '\n' ' ')"
[ -e /dev/hvc0 ] && printf '\nXR-HVC0 written to hvc0 %s\n' "$(uname -r)" >/dev/hvc0
echo 1 >/proc/sys/kernel/sysrq
echo c >/proc/sysrq-trigger
echo "XR-STILL-HERE"
poweroff -f
INIT
chmod +x "$W/init2"
(cd "$W" && echo init2 | cpio -o -H newc -R 0:0 2>/dev/null | gzip -n >ovl.cpio.gz) || fail "cpio"
cat "$KIT/initramfs.cpio.gz" "$W/ovl.cpio.gz" >"$W/initrd.gz"

# the runs (same script directly or in L1): one RESULT line and the marks per run
cat >"$W/runs.sh" <<'RUNS'
#!/bin/sh
X=$1 K=$2 I=$3 T=${4:-/tmp} EXTRA=${5:-}
for opt in "" --no-pvpanic; do
    timeout 300 "$X" run --kernel "$K" --initrd "$I" --memory 512M $opt --console "file:$T/con.log" \
        --vconsole "socket=$T/vc.sock,name=org.xvm.test" \
        --cmdline "console=ttyS0 quiet panic=-1 rdinit=/init2 $EXTRA" </dev/null 2>"$T/err.log"
    echo "LP-RESULT opt=${opt:-default} status=$?"
    grep '^XR-' "$T/con.log" | tr -d '\r' | sed 's/^/LP-/'
    grep -v 'PVM host' "$T/err.log" | sed 's/^/LP-ERR /'
done
RUNS
chmod +x "$W/runs.sh"
# the guest gets noxsave in the lab (see lg_nestlab)
if [ $MODE = nest ]; then
    lg_nestlab linux_panic "$W/out" LP-RESULT 300 --add "$XVM:/xvm" --add "$W/runs.sh:/runs.sh" \
        --add "$KIT/vmlinux:/kit/vmlinux" --add "$W/initrd.gz:/kit/initrd.gz" \
        -- /runs.sh /xvm /kit/vmlinux /kit/initrd.gz /tmp noxsave ||
        skip "nestlab could not provide a nested /dev/kvm"
    rc=$LG_NEST_RC
else
    "$W/runs.sh" "$XVM" "$KIT/vmlinux" "$W/initrd.gz" "$W" >"$W/out" 2>&1
    rc=$?
fi
grep 'LP-' "$W/out" | tr -d '\r' | sed 's/^.*LP-/  /'
[ -n "${LP_KEEP:-}" ] && cp "$W/out" "$LP_KEEP"
[ $rc = 0 ] || fail "run script status $rc"
# split per run (a run's lines follow its RESULT line)
export W
awk '/LP-RESULT opt=default/ { r = 1 } /LP-RESULT opt=--no-pvpanic/ { r = 2 }
     /LP-/ { sub(/^.*LP-/, ""); sub(/\r$/, ""); print > (ENVIRON["W"] "/run" r) }' "$W/out"
[ -f "$W/run1" ] && [ -f "$W/run2" ] || fail "no results from the runs"
for r in 1 2; do
    grep -q '^XR-RNG-CURRENT virtio_rng\.0$' "$W/run$r" || fail "run $r: virtio_rng is not the current hwrng"
    grep -Eq '^XR-RNG-BYTES 4096 [0-9a-f]{16}$' "$W/run$r" || fail "run $r: /dev/hwrng did not give 4096 bytes"
    grep -q '^XR-STILL-HERE' "$W/run$r" && fail "run $r: sysrq c did not panic"
done
for r in 1 2; do
    grep -Eq '^XR-VPORTS vport[0-9]+p1=org\.xvm\.test,dev $' "$W/run$r" || fail "run $r: virtio_console did not name the --vconsole port"
    grep -q '^XR-HVC0 written to hvc0 ' "$W/run$r" || fail "run $r: what Linux wrote to hvc0 did not reach the console log"
done
grep -q '^RESULT opt=default status=3$' "$W/run1" || fail "panic with pvpanic: want status 3"
grep -q '^XR-PVPANIC 1$' "$W/run1" || fail "pvpanic-pci did not bind"
[ "$(grep -c '^ERR ' "$W/run1")" = 1 ] && grep -q '^ERR xvm: guest crashed: pvpanic: guest kernel panicked$' "$W/run1" ||
    fail "panic with pvpanic: want the one line 'xvm: guest crashed: pvpanic: guest kernel panicked'"
grep -q '^RESULT opt=--no-pvpanic status=2$' "$W/run2" || fail "panic without pvpanic: want status 2 (panic=-1 reboots)"
grep -q '^XR-PVPANIC 0$' "$W/run2" || fail "--no-pvpanic: a pvpanic device is still bound"
echo "linux_panic: PASS ($MODE): virtio_rng bound and read, virtio_console port named and hvc0 output logged, panic -> status 3 via pvpanic, 2 without"
exit 0
