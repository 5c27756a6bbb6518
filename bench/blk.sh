#!/bin/bash
# blk.sh - virtio-blk: xvm vs QEMU (q35 + virtio-blk-pci, modern only) with the
# same test-guest driver (polling, ring 3) on the same raw and qcow2 files, and
# the host's own pread rate on the file as the limit. Runs are interleaved
# (xvm, QEMU, xvm, QEMU, ...) so machine noise hits both alike; medians.
# Both sides use the host page cache: xvm's engines do buffered I/O and QEMU
# runs with cache=writeback (its default), aio=threads.
# QEMU gets an iothread (its adaptive polling, like xvm's ring polling) unless
# QEMU_IOTHREAD=0 (then its main loop serves the queue, with no polling).
# Environment: BUILD (default build), RUNS (default 3), SIZE_MB (default 256),
# XVM_B (a second xvm binary, e.g. an older build, measured in the same rounds
# as column "xvm-B" for A/B comparisons), ONLY (a substring of the workload
# names to run, e.g. "qd1"), FMTS (default "raw qcow2").
set -uo pipefail
cd "$(dirname "$0")/.."
B=${BUILD:-build}
XVM=${XVM:-$B/xvm} GUEST=$B/tests/guest/xvm-testguest.elf PREAD=$B/bench/bench-pread
RUNS=${RUNS:-3} SIZE_MB=${SIZE_MB:-256} XVM_B=${XVM_B:-} ONLY=${ONLY:-} FMTS=${FMTS:-raw qcow2}
QEMU_IOTHREAD=${QEMU_IOTHREAD:-1}
QEMU=${QEMU:-qemu-system-x86_64}
T=$(mktemp -d "${TMPDIR:-/var/tmp}/xvm-blkbench.XXXXXX"); trap 'rm -rf "$T"' EXIT
QCPU=host; [ -d /sys/module/kvm_pvm ] && QCPU=host,-xsave,-arch-capabilities
dd if=/dev/urandom of="$T/disk.raw" bs=1M count="$SIZE_MB" status=none
qemu-img convert -O qcow2 "$T/disk.raw" "$T/disk.qcow2"
cat "$T/disk.raw" "$T/disk.qcow2" >/dev/null # both in the page cache for every side

median() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "-" && b != "-" && b > 0) printf "%.2f", a / b; else print "-" }'; }
# one VMM run: prints the XBENCH line's field KEY
xvm_run() { # binary fmt cmdline key
    "$1" run --kernel "$GUEST" --memory 64M --disk "$T/disk.$2,format=$2" \
        --cmdline "tests=blkbench blk.irq=0 $3" 2>/dev/null </dev/null | grep '^XBENCH blk' | field "$4"
}
qemu_run() { # fmt cmdline key
    local io=() dev=virtio-blk-pci,drive=d0,disable-legacy=on
    [ "$QEMU_IOTHREAD" = 1 ] && io=(-object iothread,id=io0) dev+=,iothread=io0
    timeout 300 "$QEMU" -M q35 -accel kvm -cpu "$QCPU" -m 64 -bios qboot.rom -kernel "$GUEST" "${io[@]}" \
        -append "tests=blkbench blk.irq=0 $2" -nodefaults -no-user-config -nographic -serial stdio \
        -no-reboot -drive "file=$T/disk.$1,format=$1,if=none,id=d0,cache=writeback,aio=threads" \
        -device "$dev" </dev/null 2>/dev/null |
        tr -d '\r' | grep '^XBENCH blk' | field "$3"
}
host_run() { # pread-args key
    [ "$1" = - ] && return
    for _ in $(seq "$RUNS"); do "$PREAD" "$T/disk.raw" $1 | field "$2"; done | median
}

echo "virtio-blk bench: $(nproc) cores, $( [ -d /sys/module/kvm_pvm ] && echo PVM || echo VMX/SVM ) KVM," \
     "${SIZE_MB} MiB file in the page cache, QEMU iothread=$QEMU_IOTHREAD, interleaved runs, medians of $RUNS," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
HDR=$(printf '%-26s %-6s %10s %10s' workload format xvm qemu)
[ -n "$XVM_B" ] && HDR+=$(printf ' %10s %8s' xvm-B xvm/B)
printf '%s %10s %8s %8s\n' "$HDR" host xvm/qemu xvm/host
for w in "randread 4k qd1 (IOPS)|blk.mode=0 blk.bs=4096 blk.qd=1 blk.n=3000|iops|rand 4096 200000" \
         "randread 4k qd32 (IOPS)|blk.mode=0 blk.bs=4096 blk.qd=32 blk.n=6000|iops|rand 4096 200000" \
         "seqread 64k qd16 (MiB/s)|blk.mode=1 blk.bs=65536 blk.qd=16 blk.n=3000|mib_s|seq 65536 20000" \
         "seqwrite 64k qd16 (MiB/s)|blk.mode=2 blk.bs=65536 blk.qd=16 blk.n=3000|mib_s|-"; do
    IFS='|' read -r name cmd key host <<<"$w"
    [ -n "$ONLY" ] && [[ "$name" != *"$ONLY"* ]] && continue
    h=$(host_run "$host" "$key"); h=${h:--}
    for fmt in $FMTS; do
        : >"$T/x" >"$T/q" >"$T/b"
        for _ in $(seq "$RUNS"); do
            xvm_run "$XVM" "$fmt" "$cmd" "$key" >>"$T/x"
            qemu_run "$fmt" "$cmd" "$key" >>"$T/q"
            [ -n "$XVM_B" ] && xvm_run "$XVM_B" "$fmt" "$cmd" "$key" >>"$T/b"
        done
        x=$(median <"$T/x") q=$(median <"$T/q")
        LINE=$(printf '%-26s %-6s %10s %10s' "$name" "$fmt" "$x" "$q")
        if [ -n "$XVM_B" ]; then
            xb=$(median <"$T/b")
            LINE+=$(printf ' %10s %8s' "$xb" "$(ratio "$x" "$xb")")
        fi
        printf '%s %10s %8s %8s\n' "$LINE" "$h" "$(ratio "$x" "$q")" "$(ratio "$x" "$h")"
    done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (polling on both sides suffers when other work wants the CPUs)"
echo "targets: xvm/qemu >= 1.5 (IOPS), >= 1.0 (MiB/s); xvm/host >= 0.5 (host = bench-pread on the raw file;" \
     "no host figure for writes)"
