#!/bin/bash
# net_nested.sh - virtio-net transmit rate with vhost-net: xvm (vhost=off and
# vhost=on) against QEMU (q35 + virtio-net-pci, vhost=off and vhost=on), the
# same test guest (netbench), to a tap nobody reads. On a VMX/SVM host with
# /dev/vhost-net bench/net.sh already measures QEMU's vhost; this script is
# for hosts without it (PVM): everything runs inside ../shared/nestlab (an L1
# Linux under QEMU's emulator with nested SVM and vhost_net loaded). L1's own
# speed is TCG's, so only the ratios inside one run mean anything.
# Environment: BUILD (default build), RUNS (default 3), N (frames, 20000).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
XVM=$PWD/$B/xvm GUEST=$PWD/$B/tests/guest/xvm-testguest.elf
RUNS=${RUNS:-3} N=${N:-20000}
LAB=$PWD/../shared/nestlab/nestlab.sh
QEMU=$(command -v qemu-system-x86_64) || { echo "bench/net_nested.sh: needs qemu-system-x86_64"; exit 1; }
[ -f "$LAB" ] || { echo "bench/net_nested.sh: no $LAB"; exit 1; }
for f in "$XVM" "$GUEST"; do [ -f "$f" ] || { echo "bench/net_nested.sh: $f missing (make first)"; exit 1; }; done
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# inside L1: each VMM makes tap nb0 itself; a watcher brings it up while the
# guest waits 1 s (net.start_ms) before sending
cat >"$T/in.sh" <<'IN'
#!/bin/sh
N=$1 RUNS=$2 CMD="tests=netbench net.start_ms=1000 net.bench_n=$1"
up() { ( i=0; until ip link set nb0 up 2>/dev/null || [ $i -ge 100 ]; do sleep 0.02; i=$((i + 1)); done ) & }
[ -c /dev/vhost-net ] || echo "NB-NOTE no /dev/vhost-net in L1"
for r in $(seq "$RUNS"); do
  for v in off on; do
    up; /xvm run --kernel /g.elf --memory 64M --net tap=nb0,vhost=$v --cmdline "$CMD" </dev/null 2>/dev/null |
        grep netbench | sed "s/^/NB-xvm-$v /"; wait
    up; timeout 120 /qemu -L /qemushare -M q35 -accel kvm -cpu host -m 64 -bios qboot.rom -kernel /g.elf \
        -append "$CMD" -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
        -netdev tap,id=n0,ifname=nb0,script=no,downscript=no,vhost=$v \
        -device virtio-net-pci-non-transitional,netdev=n0,romfile= </dev/null 2>/dev/null |
        grep netbench | sed "s/^/NB-qemu-$v /"; wait
  done
done
IN
chmod +x "$T/in.sh"
bash "$LAB" --timeout 900 --add "$XVM:/xvm" --add "$GUEST:/g.elf" --add "$QEMU:/qemu" \
    --add /usr/share/qemu:/qemushare --add "$T/in.sh:/in.sh" -- /in.sh "$N" "$RUNS" 2>&1 |
    tr -d '\r' | grep -a '^NB-' >"$T/out"
grep -a NB-NOTE "$T/out"

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
med() { grep -a "^NB-$1 " "$T/out" | grep -o "$2=[0-9]*" | cut -d= -f2 | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "virtio-net tx bench inside nestlab (nested SVM under TCG): $N frames, medians of $RUNS"
printf '%-12s %10s %10s %10s %10s %14s %14s\n' "packets/s" xvm xvm-vhost qemu qemu-vhost "xvm-vhost/qemu" "vhost/vhost"
for k in tx64_pps tx1500_pps; do
    a=$(med xvm-off $k) b=$(med xvm-on $k) c=$(med qemu-off $k) d=$(med qemu-on $k)
    printf '%-12s %10s %10s %10s %10s %14s %14s\n' "$k" "$a" "$b" "$c" "$d" "$(ratio "$b" "$c")" "$(ratio "$b" "$d")"
done
