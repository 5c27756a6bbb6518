#!/bin/bash
# net.sh - virtio-net packet rates: xvm vs QEMU (q35 + virtio-net-pci, modern
# only, userspace backend, and vhost-net when /dev/vhost-net exists) with the
# same test-guest driver (netbench), on a tap inside a private network
# namespace (no traffic leaves it). Medians of RUNS, in packets/s and MiB/s
# (Ethernet frame bytes), at 64 and 1500 bytes:
#   tx  guest -> tap: N frames to a tap nobody reads
#   rx  tap -> guest: bench-flood sends 4N frames into the tap as fast as the
#       kernel takes them once the guest says XNET-RX-READY; the guest counts
#       what arrives (what the VMM does not read in time the tap drops)
# Needs root (taps, netns). Environment: BUILD, RUNS (default 3), N (frames,
# 50000). Where the host has no vhost-net, bench/net_nested.sh measures it.
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
XVM=$PWD/$B/xvm GUEST=$PWD/$B/tests/guest/xvm-testguest.elf FLOOD=$PWD/$B/bench/bench-flood
RUNS=${RUNS:-3} N=${N:-50000}
[ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] || { echo "bench/net.sh: needs root and /dev/net/tun"; exit 1; }
for f in "$XVM" "$GUEST" "$FLOOD"; do [ -f "$f" ] || { echo "bench/net.sh: $f missing (make first)"; exit 1; }; done
NS=xvm-netbench-$$ T=$(mktemp -d)
ip netns add "$NS" || exit 1
trap 'ip netns del "$NS" 2>/dev/null; rm -rf "$T"' EXIT
ip -n "$NS" tuntap add dev nb0 mode tap vnet_hdr && ip -n "$NS" link set nb0 up || exit 1
QCPU=host; [ -d /sys/module/kvm_pvm ] && QCPU=host,-xsave,-arch-capabilities

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { tr -d '\r' | grep '^XTEST netbench' | grep -o "$1=[0-9]*" | head -n 1 | cut -d= -f2; }
vmm() { # xvm|qemu-off|qemu-on CMDLINE: the VMM's console on stdout
    case $1 in
    xvm) ip netns exec "$NS" timeout 120 "$XVM" run --kernel "$GUEST" --memory 64M --net tap=nb0 \
             --cmdline "$2" </dev/null 2>/dev/null ;;
    qemu-*) ip netns exec "$NS" timeout 120 qemu-system-x86_64 -M q35 -accel kvm -cpu "$QCPU" -m 64 \
             -bios qboot.rom -kernel "$GUEST" -append "$2" -nodefaults -no-user-config -nographic \
             -serial stdio -no-reboot -device virtio-net-pci-non-transitional,netdev=n0,romfile= \
             -netdev "tap,id=n0,ifname=nb0,script=no,downscript=no,vhost=${1#qemu-}" </dev/null 2>/dev/null ;;
    esac
}
tx() { vmm "$1" "tests=netbench net.bench_n=$N" | field "tx$2_pps"; }
rx() { # VMM SIZE
    rm -f "$T/go" "$T/out"
    ip netns exec "$NS" "$FLOOD" nb0 "$(( $2 < 60 ? 60 : $2 ))" "$(( 4 * N ))" "$T/go" >/dev/null &
    local fp=$!
    vmm "$1" "tests=netbench net.bench_n=0 net.rxbench=$(( 4 * N )) net.wait_ms=20000" >"$T/out" &
    local vp=$!
    for _ in $(seq 400); do grep -q XNET-RX-READY "$T/out" 2>/dev/null && break; sleep 0.05; done
    touch "$T/go"
    wait $vp; wait $fp
    field rx_pps <"$T/out"
}
med() { for _ in $(seq "$RUNS"); do "$@"; done | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
mib() { awk -v p="$1" -v s="$2" 'BEGIN { printf "%.1f", p * s / 1048576 }'; }

vms="xvm qemu-off"; [ -c /dev/vhost-net ] && vms="$vms qemu-on"
echo "virtio-net bench: $(nproc) cores, $( [ -d /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM ) KVM, $N frames, medians of $RUNS"
printf '%-8s %18s %18s %18s %9s\n' "" "xvm pps (MiB/s)" "qemu pps (MiB/s)" "qemu-vhost" "xvm/qemu"
for dir in tx rx; do
    for size in 64 1500; do
        declare -A r=()
        for v in $vms; do r[$v]=$(med "$dir" "$v" "$size"); done
        printf '%-8s %18s %18s %18s %9s\n' "$dir$size" "${r[xvm]} ($(mib "${r[xvm]}" $size))" \
            "${r[qemu-off]} ($(mib "${r[qemu-off]}" $size))" \
            "$( [ -n "${r[qemu-on]:-}" ] && echo "${r[qemu-on]} ($(mib "${r[qemu-on]}" $size))" || echo -)" \
            "$(ratio "${r[xvm]}" "${r[qemu-off]}")"
        unset r
    done
done
