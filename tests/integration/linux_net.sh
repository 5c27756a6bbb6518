#!/bin/bash
# linux_net.sh - real Linux (the guest kit's Debian 6.1 PVH vmlinux) under `xvm run --net`:
# its virtio_net driver binds to xvm's device, negotiates mergeable buffers and offloads
# (the tap's offloads follow), and the kit's nettest pings the host end of the tap 3 times,
# on the userspace data path and on vhost-net (where /dev/vhost-net exists; always in nestlab).
# Runs directly on a VMX/SVM /dev/kvm (inside a private network namespace), on a PVM host
# inside ../shared/nestlab/nestlab.sh (nested SVM; the L1 VM is the private network), else
# skips. usage: linux_net.sh XVM   (env: XVM_SRC, XVM_GUEST_KIT)   exit 0 pass, 1 fail, 77 skip
set -uo pipefail
XVM=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${XVM_SRC:-$(cd "$HERE/../.." && pwd)}
. "$HERE/lib/linux_guest.sh"
skip() { echo "linux_net: skipped: $*"; exit 77; }
fail() { echo "linux_net: FAIL: $*"; [ -f "$W/out" ] && sed 's/^/  | /' "$W/out" | tail -40; exit 1; }
[ "$(id -u)" = 0 ] || skip "needs root (taps)"
[ -c /dev/kvm ] && [ -w /dev/kvm ] || skip "no usable /dev/kvm"
LAB=$SRC/../shared/nestlab/nestlab.sh
if [ -d /sys/module/kvm_pvm ]; then
    [ -f "$LAB" ] || skip "PVM host and no nestlab for a nested SVM /dev/kvm"
    MODE=nest
else
    [ -c /dev/net/tun ] || skip "no /dev/net/tun"
    MODE=direct
fi
KIT=${XVM_GUEST_KIT:-$("$SRC/tools/mkguest.sh" --dir)} || skip "no directory for the guest kit"
"$SRC/tools/mkguest.sh" "$KIT" >/dev/null 2>&1 || skip "cannot build the guest kit (tools/mkguest.sh)"
W=$(mktemp -d); trap 'rm -rf "$W"; [ $MODE = direct ] && ip netns del "xvmln$$" 2>/dev/null' EXIT

# the run (same script directly or in L1): xvm makes tap xt0; once it exists it gets
# 10.77.0.1/24 and the guest (10.77.0.2) pings it. Once on the userspace data path
# (vhost=off), then on vhost-net (vhost=on) where /dev/vhost-net exists
cat >"$W/run.sh" <<'RUN'
#!/bin/sh
X=$1 K=$2 I=$3 T=${4:-/tmp} EXTRA=${5:-}
VS=off; [ -c /dev/vhost-net ] && VS="off on"
echo "LN-PATHS $VS"
for v in $VS; do
  ( i=0; while [ ! -e /sys/class/net/xt0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
    ip addr add 10.77.0.1/24 dev xt0 && ip link set xt0 up ) &
  timeout -k 5 150 "$X" run -v --kernel "$K" --initrd "$I" --memory 512M --net tap=xt0,vhost=$v \
      --console "file:$T/con-$v.log" \
      --cmdline "console=ttyS0 quiet xvm.action=nettest xvm.ip=10.77.0.2/24 xvm.peer=10.77.0.1 $EXTRA" \
      </dev/null 2>"$T/err-$v.log"
  echo "LN-STATUS $v $?"
  wait
  grep -a 'XVM-RESULT\|virtio_net\|bytes from' "$T/con-$v.log" | tr -d '\r' | sed "s/^/LN-CON $v /"
  grep 'nic \|stats' "$T/err-$v.log" | sed "s/^/LN-ERR $v /"
done
echo LN-DONE
RUN
chmod +x "$W/run.sh"
# the guest gets noxsave in the lab (see lg_nestlab)
if [ $MODE = nest ]; then
    lg_nestlab linux_net "$W/out" LN-DONE 240 --add "$XVM:/xvm" --add "$W/run.sh:/run.sh" \
        --add "$KIT/vmlinux:/kit/vmlinux" --add "$KIT/initramfs.cpio.gz:/kit/initrd.gz" \
        -- /run.sh /xvm /kit/vmlinux /kit/initrd.gz /tmp noxsave ||
        skip "nestlab could not provide a nested /dev/kvm"
    rc=$LG_NEST_RC
else
    ip netns add "xvmln$$" || skip "cannot create a network namespace"
    ip netns exec "xvmln$$" "$W/run.sh" "$XVM" "$KIT/vmlinux" "$KIT/initramfs.cpio.gz" "$W" >"$W/out" 2>&1
    rc=$?
fi
grep -a 'LN-' "$W/out" | tr -d '\r' | sed 's/^.*LN-/  /'
[ $rc = 0 ] || fail "run script status $rc"
paths=$(grep -a 'LN-PATHS' "$W/out" | tr -d '\r' | sed 's/^.*LN-PATHS //')
[ -n "$paths" ] || fail "the run script did not start"
[ $MODE = nest ] && [ "$paths" = off ] && fail "no /dev/vhost-net in the nested lab (it loads vhost_net)"
for v in $paths; do
    grep -aq "LN-CON $v XVM-RESULT nettest OK" "$W/out" || fail "vhost=$v: the guest's nettest did not reach the host"
    grep -aq "LN-ERR $v .*nic net0: guest features 0x[0-9a-f]*, tap offloads 0x7" "$W/out" ||
        fail "vhost=$v: Linux did not take GUEST_CSUM/TSO (tap offloads not 0x7)"
    grep -aq "LN-STATUS $v 0" "$W/out" || fail "vhost=$v: xvm did not end with status 0"
done
grep -aq 'LN-ERR off .*nic net0: data path userspace (vhost=off)' "$W/out" ||
    fail "vhost=off: xvm did not say it used the userspace data path"
case " $paths " in *" on "*)
    grep -aq 'LN-ERR on .*nic net0: data path vhost-net' "$W/out" ||
        fail "vhost=on: the NIC did not use vhost-net" ;;
esac
echo "linux_net: PASS ($MODE): Linux virtio_net pinged the host over the tap, offloads on; data paths: $paths"
exit 0
