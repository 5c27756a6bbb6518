#!/bin/bash
# net.sh - virtio-net transmit rate: xvm vs QEMU (q35 + virtio-net-pci, modern
# only, userspace backend, and vhost-net when /dev/vhost-net exists) with the
# same test-guest driver, to a tap inside a private network namespace (no
# traffic leaves it). Packets/s at 64 and 1500 bytes; medians of RUNS.
# Receive rates need a host-side flooder faster than the guest: see
# tests/integration/net_xvm.sh for the python one and its limits.
# Needs root (taps, netns). Environment: BUILD, RUNS (default 3), N (frames, 50000).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
XVM=$PWD/$B/xvm GUEST=$PWD/$B/tests/guest/xvm-testguest.elf
RUNS=${RUNS:-3} N=${N:-50000}
[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || { echo "bench/net.sh: needs root and /dev/net/tun"; exit 1; }
NS=xvm-netbench-$$
ip netns add "$NS" || exit 1
trap 'ip netns del "$NS" 2>/dev/null' EXIT
ip -n "$NS" tuntap add dev nb0 mode tap vnet_hdr && ip -n "$NS" link set nb0 up || exit 1
QCPU=host; [ -d /sys/module/kvm_pvm ] && QCPU=host,-xsave,-arch-capabilities
CMD="tests=netbench net.bench_n=$N"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { tr -d '\r' | grep '^XTEST netbench' | grep -o "$1=[0-9]*" | head -n 1 | cut -d= -f2; }
xvm_run() { ip netns exec "$NS" "$XVM" run --kernel "$GUEST" --memory 64M --net tap=nb0 \
    --cmdline "$CMD" </dev/null 2>/dev/null | field "$1"; }
qemu_run() { # KEY VHOST(on|off)
    ip netns exec "$NS" timeout 120 qemu-system-x86_64 -M q35 -accel kvm -cpu "$QCPU" -m 64 \
        -bios qboot.rom -kernel "$GUEST" -append "$CMD" -nodefaults -no-user-config -nographic \
        -serial stdio -no-reboot -netdev "tap,id=n0,ifname=nb0,script=no,downscript=no,vhost=$2" \
        -device virtio-net-pci-non-transitional,netdev=n0 </dev/null 2>/dev/null | field "$1"
}
med() { for _ in $(seq "$RUNS"); do "$@"; done | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "virtio-net tx bench: $(nproc) cores, $( [ -d /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM ) KVM, $N frames, medians of $RUNS"
printf '%-18s %10s %12s %12s %10s\n' "packets/s" xvm "qemu" "qemu-vhost" "xvm/qemu"
for k in tx64_pps tx1500_pps; do
    x=$(med xvm_run "$k")
    q=$(med qemu_run "$k" off)
    v=-
    [ -c /dev/vhost-net ] && v=$(med qemu_run "$k" on)
    printf '%-18s %10s %12s %12s %10s\n' "$k" "$x" "$q" "${v:--}" "$(ratio "$x" "$q")"
done
