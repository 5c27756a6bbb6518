#!/bin/bash
# guest_xvm.sh - boot the test guest under `xvm run` (2 vCPUs) and check its
# XTEST report, the exit status (0: ACPI power-off) and the console modes.
# usage: guest_xvm.sh XVM TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$1 ELF=$2
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

start=$(date +%s%N)
timeout 120 "$XVM" run --kernel "$ELF" --vcpus 2 --memory 64M --name xtest \
    --cmdline "${GUEST_CMDLINE:-}" </dev/null >"$T/out" 2>"$T/err"
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
sed 's/^/  guest| /' "$T/out"; sed 's/^/  xvm| /' "$T/err"
[ $rc = 124 ] && fail "guest did not power off within 120 s"
[ $rc = 0 ] || fail "xvm exit status $rc, want 0 (guest powered off)"
grep -q '^XTEST-FAULT' "$T/out" && fail "guest took an exception"
grep -Eq '^XTEST acpi PASS .*cpus=2( |$)' "$T/out" || fail "MADT does not show 2 CPUs"
grep -Eq '^XTEST smp PASS .*cpus=2( |$)' "$T/out" || fail "smp did not bring up 2 CPUs"
d=$(grep '^XTEST-DONE' "$T/out") || fail "no XTEST-DONE line"
grep -q ' failed=0 ' <<<"$d" || fail "$d"
grep -Eq ' passed=[1-9]' <<<"$d" || fail "nothing passed: $d"
echo "ok: $d (xvm wall ${ms} ms)"

# console to a file: same report there, nothing on stdout
timeout 120 "$XVM" run --kernel "$ELF" --console "file:$T/console.log" \
    --cmdline "tests=cpuid" </dev/null >"$T/out2" 2>/dev/null || fail "file console run failed"
[ -s "$T/out2" ] && fail "guest output leaked to stdout with --console file:"
grep -q '^XTEST cpuid PASS' "$T/console.log" || fail "no report in the console file"
echo "ok: --console file: holds the report"

# a signal stops the VM with status 4 and a one-line reason
"$XVM" run --kernel "$ELF" --console null --cmdline "bench=pio:1000000000" </dev/null 2>"$T/err3" &
pid=$!
sleep 1; kill -TERM $pid; wait $pid; rc=$?
[ $rc = 4 ] || fail "SIGTERM: exit status $rc, want 4"
grep -q 'stopped by signal' "$T/err3" || fail "SIGTERM: no reason line: $(cat "$T/err3")"
echo "ok: SIGTERM -> status 4 ($(grep -v PVM "$T/err3"))"
exit 0
