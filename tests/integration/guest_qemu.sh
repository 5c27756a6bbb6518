#!/bin/bash
# guest_qemu.sh - boot the xvm test guest under QEMU microvm (KVM, 2 vCPUs) and check its XTEST report.
# usage: guest_qemu.sh path/to/xvm-testguest.elf   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
ELF=${1:-}
QEMU=${QEMU:-qemu-system-x86_64}
TIMEOUT=${GUEST_TIMEOUT:-120}

[ -n "$ELF" ] && [ -f "$ELF" ] || { echo "xvm: guest_qemu: no guest ELF given"; exit 1; }
command -v "$QEMU" >/dev/null || { echo "skip: $QEMU not installed"; exit 77; }
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "skip: /dev/kvm not usable"; exit 77; }

# On PVM hosts (kvm_pvm) the in-kernel emulator cannot do xsave, and MSR 0x10a
# (arch-capabilities) cannot be set: hide both. Harmless on VMX/SVM hosts.
CPU=${GUEST_CPU:-host,-xsave,-arch-capabilities}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

start=$(date +%s%N)
timeout "$TIMEOUT" "$QEMU" -M microvm -accel kvm -cpu "$CPU" -smp 2 -m 128 \
    -kernel "$ELF" -append "${GUEST_CMDLINE:-}" \
    -nodefaults -no-user-config -nographic -serial stdio -no-reboot </dev/null >"$out" 2>&1
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
tr -d '\r' <"$out" | sed 's/^/  guest| /'

fail() { echo "FAIL: $*"; exit 1; }
[ $rc -eq 124 ] && fail "no power-off within ${TIMEOUT}s"
grep -q '^XTEST-BOOT' "$out" || fail "no XTEST-BOOT line"
grep -q '^XTEST-POWEROFF-FAILED' "$out" && fail "ACPI power-off did not stop QEMU"
grep -q '^XTEST-FAULT' "$out" && fail "guest took an exception"
grep -Eq '^XTEST smp PASS .*cpus=2( |$)' "$out" || fail "smp did not report cpus=2"
done=$(grep -a '^XTEST-DONE' "$out" | tr -d '\r')
[ -n "$done" ] || fail "no XTEST-DONE line"
echo "$done" | grep -q ' failed=0 ' || fail "$done"
echo "$done" | grep -Eq ' passed=[1-9]' || fail "nothing passed: $done"
echo "PASS: $done (qemu wall ${ms} ms, rc $rc)"
exit 0
