#!/bin/bash
# guest_qemu.sh - boot the xvm test guest under QEMU microvm (KVM, 2 vCPUs) and check its XTEST reports.
# usage: guest_qemu.sh path/to/xvm-testguest.elf   (exit 0 pass, 77 skip, 1 fail)
# env: QEMU (binary), GUEST_CPU (-cpu value), GUEST_TIMEOUT (seconds per boot)
set -uo pipefail
ELF=${1:-}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${GUEST_TIMEOUT:-60}

[ -n "$ELF" ] && [ -f "$ELF" ] || { echo "xvm: guest_qemu: no guest ELF given"; exit 1; }
command -v "$QEMU" >/dev/null || { echo "skip: $QEMU not installed"; exit 77; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "skip: /dev/kvm not usable"; exit 77; }

# PVM hosts (kvm_pvm) cannot set MSR 0x10a (arch-capabilities) and their
# emulator cannot do xsave: hide both. Harmless on VMX/SVM hosts.
CPU=${GUEST_CPU:-host,-xsave,-arch-capabilities}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
has() { grep -Eq "$1" "$out"; }

# boot MACHINE CMDLINE [QEMU ARGS...]: run one guest to its end; output in
# $out, wall ms in $ms
boot() {
    local start rc m=$1 c=$2
    shift 2
    start=$(date +%s%N)
    timeout "$TIMEOUT" "$QEMU" -M "$m" "$@" -accel kvm -cpu "$CPU" -smp 2 -m 128 \
        -kernel "$ELF" -append "$c" \
        -nodefaults -no-user-config -nographic -serial stdio -no-reboot </dev/null 2>&1 |
        tr -d '\r' >"$out"
    rc=${PIPESTATUS[0]}
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "== $m $* \"$c\": ${ms} ms"
    sed 's/^/  guest| /' "$out"
    [ "$rc" -eq 124 ] && fail "guest did not end within ${TIMEOUT}s"
    [ "$rc" -eq 0 ] || fail "qemu exited with $rc"
    has '^XTEST-BOOT$' || fail "no XTEST-BOOT line"
}

# 1. every default test passes, both CPUs come up, ACPI power-off ends QEMU
boot microvm ""
has '^XTEST-POWEROFF-FAILED' && fail "ACPI power-off did not stop QEMU"
has '^XTEST-FAULT' && fail "guest took an exception"
has '^XTEST smp PASS .*cpus=2( |$)' || fail "smp did not report cpus=2"
for t in cpuid acpi memory pio mmio timer irq smp; do
    has "^XTEST $t PASS" || fail "test $t did not pass"
done
has '^XTEST pci SKIP reason=no-pci-mechanism1' || fail "microvm has no PCI: pci must skip"
has '^XTEST acpi PASS .* s5=[0-7] .*hw_reduced=1' || fail "microvm: want \\_S5 and a HW-reduced FADT"
has '^XTEST-DONE passed=8 failed=0 skipped=[0-9]+$' || fail "bad XTEST-DONE line on microvm"
# microvm has no PCI: every skip must be a PCI test saying why
grep '^XTEST [a-z]* SKIP' "$out" | grep -Ev '^XTEST (pci SKIP reason=no-pci-mechanism1|[a-z]+ SKIP reason=no-virtio-[a-z]+)$' &&
    fail "unexpected skip on microvm"
has '^XTEST-TIME run_cycles=[1-9][0-9]* run_us=[0-9]+$' || fail "no XTEST-TIME line"
full_ms=$ms

# 2. a PC (q35, fast qboot firmware): PCI, and the legacy PM1a_CNT power-off path
boot q35 "" -bios qboot.rom -device virtio-rng-pci-non-transitional
has '^XTEST-POWEROFF-FAILED' && fail "PM1a power-off did not stop QEMU"
for t in cpuid acpi memory pio mmio timer irq smp pci rng; do
    has "^XTEST $t PASS" || fail "test $t did not pass on q35"
done
has '^XTEST acpi PASS .* s5=[0-7] ' || fail "no \\_S5 value in the DSDT"
has '^XTEST acpi PASS .*hw_reduced' && fail "q35 FADT should not be HW-reduced"
has '^XTEST-DONE passed=10 failed=0 skipped=[0-9]+$' || fail "bad XTEST-DONE line on q35"
grep '^XTEST [a-z]* SKIP' "$out" | grep -Ev '^XTEST [a-z]+ SKIP reason=no-virtio-[a-z]+$' &&
    fail "unexpected skip on q35 (only absent virtio devices may skip)"

# 3. an exception ends the run: fault report, failed count, still powers off
boot microvm "tests=cpuid,fault,pio"
has '^XTEST-FAULT vec=6 ' || fail "no XTEST-FAULT vec=6 line"
has '^XTEST fault FAIL fault vec=6' || fail "fault test not reported as failed"
has '^XTEST-DONE passed=1 failed=1 skipped=0$' || fail "bad XTEST-DONE after a fault"
has '^XTEST pio ' && fail "tests ran after a fault"
has '^XTEST-POWEROFF-FAILED' && fail "power-off failed after a fault"

# 4. no ACPI: benchmarks and selection still work; power-off fails and the
#    triple-fault fallback still ends QEMU (-no-reboot)
boot microvm,acpi=off "tests=pio,bogus bench=pio:1000 bench=mmio:1000 quiet"
has '^XBENCH pio n=1000 cycles=[0-9]+ cycles_per_op=[0-9]+' || fail "no XBENCH pio line"
has '^XBENCH mmio n=1000 cycles=[0-9]+ cycles_per_op=[0-9]+' || fail "no XBENCH mmio line"
has '^XTEST pio PASS' && fail "quiet still printed a PASS line"
has '^XTEST-TIME' && fail "quiet still printed XTEST-TIME"
has '^XTEST-DONE passed=1 failed=0 skipped=1$' || fail "bad XTEST-DONE with tests="
has '^XTEST-POWEROFF-FAILED$' || fail "no XTEST-POWEROFF-FAILED without ACPI"

echo "PASS: guest under QEMU microvm (full run ${full_ms} ms wall)"
exit 0
