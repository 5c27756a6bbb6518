#!/bin/bash
# blk.sh - virtio-blk: xvm vs QEMU (q35 + virtio-blk-pci, modern only) with the
# same test-guest driver (polling, ring 3) on the same raw and qcow2 files, and
# the host's own pread rate on the file as the limit. Medians of RUNS runs.
# Environment: BUILD (default build), RUNS (default 3), SIZE_MB (default 256).
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
XVM=$B/xvm GUEST=$B/tests/guest/xvm-testguest.elf PREAD=$B/bench/bench-pread
RUNS=${RUNS:-3} SIZE_MB=${SIZE_MB:-256}
QEMU=${QEMU:-qemu-system-x86_64}
T=$(mktemp -d "${TMPDIR:-/var/tmp}/xvm-blkbench.XXXXXX"); trap 'rm -rf "$T"' EXIT
QCPU=host; [ -d /sys/module/kvm_pvm ] && QCPU=host,-xsave,-arch-capabilities
dd if=/dev/urandom of="$T/disk.raw" bs=1M count="$SIZE_MB" status=none
qemu-img convert -O qcow2 "$T/disk.raw" "$T/disk.qcow2"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# one VMM run: prints the XBENCH line's field KEY
xvm_run() { # fmt cmdline key
    "$XVM" run --kernel "$GUEST" --memory 64M --disk "$T/disk.$1,format=$1" \
        --cmdline "tests=blkbench blk.irq=0 $2" 2>/dev/null </dev/null | grep '^XBENCH blk' | field "$3"
}
qemu_run() {
    timeout 300 "$QEMU" -M q35 -accel kvm -cpu "$QCPU" -m 64 -bios qboot.rom -kernel "$GUEST" \
        -append "tests=blkbench blk.irq=0 $2" -nodefaults -no-user-config -nographic -serial stdio \
        -no-reboot -drive "file=$T/disk.$1,format=$1,if=none,id=d0,cache=writeback,aio=threads" \
        -device virtio-blk-pci,drive=d0,disable-legacy=on </dev/null 2>/dev/null |
        tr -d '\r' | grep '^XBENCH blk' | field "$3"
}
med() { for _ in $(seq "$RUNS"); do "$@"; done | median; }

echo "virtio-blk bench: $(nproc) cores, $( [ -d /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM ) KVM, ${SIZE_MB} MiB file, medians of $RUNS"
printf '%-28s %-6s %10s %10s %10s %8s %8s\n' workload format xvm qemu host xvm/qemu xvm/host
for w in "randread 4k qd1|blk.mode=0 blk.bs=4096 blk.qd=1 blk.n=3000|iops|rand 4096 200000" \
         "randread 4k qd32|blk.mode=0 blk.bs=4096 blk.qd=32 blk.n=6000|iops|rand 4096 200000" \
         "seqread 64k qd16 (MiB/s)|blk.mode=1 blk.bs=65536 blk.qd=16 blk.n=3000|mib_s|seq 65536 20000" \
         "seqwrite 64k qd16 (MiB/s)|blk.mode=2 blk.bs=65536 blk.qd=16 blk.n=3000|mib_s|-"; do
    IFS='|' read -r name cmd key host <<<"$w"
    h=-
    [ "$host" != - ] && h=$("$PREAD" "$T/disk.raw" $host | field "$key")
    for fmt in raw qcow2; do
        x=$(med xvm_run "$fmt" "$cmd" "$key")
        q=$(med qemu_run "$fmt" "$cmd" "$key")
        printf '%-28s %-6s %10s %10s %10s %8s %8s\n' "$name" "$fmt" "$x" "$q" "$h" \
            "$(ratio "$x" "$q")" "$( [ "$h" = - ] && echo - || ratio "$x" "$h")"
    done
done
