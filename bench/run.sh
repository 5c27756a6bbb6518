#!/bin/bash
# run.sh - `make bench`: xvm against QEMU microvm (-accel kvm) on the same
# test guest in the same run, plus a bare KVM_RUN loop as the floor for the
# cost of a PIO exit. Prints a table of medians and ratios.
# Environment: BUILD (default build), RUNS (launch runs, default 11),
# PIO_N (PIO exits per run, default 20000), PIO_RUNS (default 5).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
XVM=$B/xvm GUEST=$B/tests/guest/xvm-testguest.elf
LAUNCH=$B/bench/bench-launch BARE=$B/bench/bench-kvm-bare
RUNS=${RUNS:-11} PIO_N=${PIO_N:-20000} PIO_RUNS=${PIO_RUNS:-5}
QEMU=${QEMU:-qemu-system-x86_64}
for f in "$XVM" "$GUEST" "$LAUNCH" "$BARE"; do
    [ -x "$f" ] || [ -f "$f" ] || { echo "bench: $f missing (run make first)"; exit 1; }
done
[ -r /dev/kvm ] || { echo "bench: /dev/kvm not usable"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
# QEMU on a PVM host cannot set MSR 0x10a nor run xsave in guest ring 0
QCPU=host; [ -d /sys/module/kvm_pvm ] && QCPU=host,-xsave,-arch-capabilities
QEMU_CMD=("$QEMU" -M microvm -accel kvm -cpu "$QCPU" -smp 1 -m 64 -kernel "$GUEST"
          -nodefaults -no-user-config -nographic -serial stdio -no-reboot)
XVM_CMD=("$XVM" run --kernel "$GUEST" --memory 64M)
TSC=$("$LAUNCH" -t | sed 's/tsc_khz=//')

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -n 1; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "xvm bench: $(nproc) cores, $(uname -r), $( [ -d /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM ) KVM, TSC ${TSC} kHz"
echo "guest: $GUEST; $RUNS launch runs, $PIO_RUNS x $PIO_N PIO exits; medians"
echo

# 1. start -> first serial byte, start -> exit, peak RSS (a short guest run)
XVM_LOG=info "$LAUNCH" -r "$RUNS" -o "$T/x.out" -e "$T/x.err" -- "${XVM_CMD[@]}" --cmdline tests=cpuid >"$T/x.l"
have_qemu=1
command -v "$QEMU" >/dev/null || have_qemu=0
[ $have_qemu = 1 ] && "$LAUNCH" -r "$RUNS" -o "$T/q.out" -- "${QEMU_CMD[@]}" -append tests=cpuid >"$T/q.l"
xf=$(field first_byte_ms <"$T/x.l") xe=$(field exit_ms <"$T/x.l") xr=$(field maxrss_kib <"$T/x.l")
xo=$(field vmm_overhead_kib <"$T/x.err") xg=$(field guest_resident_kib <"$T/x.err")
grep -q 'XTEST cpuid PASS' "$T/x.out" || echo "warning: xvm run did not report cpuid PASS"
if [ $have_qemu = 1 ]; then
    qf=$(field first_byte_ms <"$T/q.l") qe=$(field exit_ms <"$T/q.l") qr=$(field maxrss_kib <"$T/q.l")
else
    qf=0 qe=0 qr=0; echo "note: $QEMU not installed: QEMU columns are 0"
fi
printf '%-34s %12s %12s %10s\n' metric xvm qemu xvm/qemu
printf '%-34s %12s %12s %10s\n' "start -> first serial byte (ms)" "$xf" "$qf" "$(ratio "$xf" "$qf")"
printf '%-34s %12s %12s %10s\n' "start -> exit (ms)" "$xe" "$qe" "$(ratio "$xe" "$qe")"
printf '%-34s %12s %12s %10s\n' "peak RSS (KiB)" "$xr" "$qr" "$(ratio "$xr" "$qr")"
printf '%-34s %12s %12s %10s\n' "  of which guest RAM touched (KiB)" "$xg" "-" ""
printf '%-34s %12s %12s %10s\n' "  VMM overhead (KiB)" "$xo" "$((${qr%.*} - ${xg:-0}))*" ""

# 2. PIO exit round trip: guest-timed loop of out 0x80 (ring 3)
pio() { # label cmd... -> median cycles per exit
    for _ in $(seq "$PIO_RUNS"); do "$@" 2>/dev/null | field cycles_per_op; done | median
}
bp=$(pio "$BARE" "$GUEST" "bench=pio:$PIO_N")
xp=$(pio "${XVM_CMD[@]}" --cmdline "bench=pio:$PIO_N")
qp=0; [ $have_qemu = 1 ] && qp=$(pio "${QEMU_CMD[@]}" -append "bench=pio:$PIO_N")
ns() { awk -v c="$1" -v k="$TSC" 'BEGIN { printf "%.1f", c * 1e6 / k / 1000 }'; }
printf '%-34s %12s %12s %10s\n' "PIO exit round trip (us)" "$(ns "$xp")" "$(ns "$qp")" "$(ratio "$xp" "$qp")"
printf '%-34s %12s %12s %10s\n' "bare KVM_RUN loop PIO exit (us)" "$(ns "$bp")" "" ""
printf '%-34s %12s\n' "xvm / bare KVM_RUN loop" "$(ratio "$xp" "$bp")"
echo
echo "* QEMU overhead estimated as its peak RSS minus the guest RAM xvm saw touched."

# 3. xvmstored (bench/store.sh)
if [ -x "$B/store/xvmstored" ] && [ -x "$B/bench/store_bench" ]; then
    echo; bench/store.sh "$B" "${STORE_SECS:-2}"
fi

# 4. virtio-blk (bench/blk.sh)
echo; bench/blk.sh

# 5. virtio-net transmit (bench/net.sh; root only: taps in a private netns)
if [ "$(id -u)" = 0 ]; then echo; bench/net.sh; fi
# ... and with vhost-net: where this host has no /dev/vhost-net (PVM), inside
#    the nested lab (bench/net_nested.sh; ratios only)
if [ "$(id -u)" = 0 ] && [ ! -c /dev/vhost-net ] && [ -f ../shared/nestlab/nestlab.sh ]; then
    echo; bench/net_nested.sh
fi

# 6. domain lifecycle through xvmd (bench/lifecycle.sh: create/destroy latency,
#    create rate, 50 small domains at once)
if [ -x "$B/xvmd" ]; then echo; bench/lifecycle.sh "$B" 20 50; fi
