#!/bin/bash
# run_badinput.sh - `xvm run` on bad input: one-line error naming the problem,
# exit status 1, and nothing left behind (no console file, no stray process).
# usage: run_badinput.sh XVM
set -u
XVM=$1
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail=0

# expect NAME STATUS PATTERN -- ARGS...: run xvm ARGS, check status and that
# stderr is exactly one line (after the PVM notice) matching PATTERN
expect() {
    local name=$1 want=$2 pat=$3; shift 4
    "$XVM" "$@" >"$T/out" 2>"$T/err" </dev/null
    local rc=$?
    local lines; lines=$(grep -vc '^xvm: PVM host' "$T/err")
    if [ "$rc" != "$want" ] || [ "$lines" != 1 ] || ! grep -q -- "$pat" "$T/err"; then
        echo "FAIL $name: status $rc (want $want), stderr:"; sed 's/^/    /' "$T/err"
        fail=1
    else
        echo "ok   $name: $(grep -v '^xvm: PVM host' "$T/err")"
    fi
    [ -e "$T/console.log" ] && { echo "FAIL $name: left $T/console.log behind"; fail=1; rm -f "$T/console.log"; }
}

head -c 600 /bin/true >"$T/notkernel"
printf 'HdrS' | dd of="$T/short" bs=1 seek=514 conv=notrunc 2>/dev/null
head -c 1M /dev/urandom >"$T/big.img"; head -c 20M /dev/zero >"$T/initrd.big"
# a valid-looking PVH ELF header but truncated program headers
{ printf '\177ELF\002\001\001'; head -c 9 /dev/zero; printf '\002\000\076\000'; head -c 44 /dev/zero; } >"$T/trunc.elf"
# a real ELF without a PVH note
cp /bin/true "$T/plain.elf"
C=(--console "file:$T/console.log")

expect usage-no-kernel 1 "--kernel FILE is required" -- run "${C[@]}"
expect missing-kernel 1 "$T/none: No such file" -- run --kernel "$T/none" "${C[@]}"
expect bad-memory 1 "--memory '12Q'" -- run --kernel "$T/big.img" --memory 12Q "${C[@]}"
expect tiny-memory 1 "--memory '1M'" -- run --kernel "$T/big.img" --memory 1M "${C[@]}"
expect bad-vcpus 1 "--vcpus 'x'" -- run --kernel "$T/big.img" --vcpus x "${C[@]}"
expect bad-console 1 "--console: unknown kind 'tty'" -- run --kernel "$T/big.img" --console tty
expect unknown-option 1 "unknown option '--frobnicate'" -- run --frobnicate
expect missing-value 1 "needs a value" -- run --kernel

# disks: bad options are caught while parsing, bad images before anything is created
expect disk-no-path 1 "--disk ',ro': needs a path" -- run --kernel "$T/big.img" --disk ,ro "${C[@]}"
expect disk-bad-opt 1 "unknown or bad option 'cache=none'" -- run --kernel "$T/big.img" --disk "$T/big.img,cache=none" "${C[@]}"
expect disk-bad-queues 1 "unknown or bad option 'queues=99'" -- run --kernel "$T/big.img" --disk "$T/big.img,queues=99" "${C[@]}"
if [ -c /dev/kvm ] && [ -r /dev/kvm ]; then
    # kernel contents are checked once the VM's memory exists
    expect dir-kernel 1 "cannot read kernel" -- run --kernel "$T" "${C[@]}"
    expect not-kernel 1 "not a Linux bzImage or an ELF kernel" -- run --kernel "$T/big.img" "${C[@]}"
    expect truncated-bz 1 "truncated" -- run --kernel "$T/short" "${C[@]}"
    expect truncated-elf 1 "truncated or damaged ELF" -- run --kernel "$T/trunc.elf" "${C[@]}"
    expect no-pvh-note 1 "not a 64-bit x86 ELF\|without a PVH entry note\|below 1 MiB" -- run --kernel "$T/plain.elf" "${C[@]}"
    expect too-many-vcpus 1 "allows 1 to" -- run --kernel "$T/big.img" --vcpus 65536 "${C[@]}"
    G=${XVM_TESTGUEST:-}
    if [ -n "$G" ] && [ -f "$G" ]; then
        expect initrd-too-big 1 "initrd too big" -- run --kernel "$G" --initrd "$T/initrd.big" --memory 16M "${C[@]}"
        expect missing-initrd 1 "cannot read initrd" -- run --kernel "$G" --initrd "$T/none" "${C[@]}"
        expect missing-disk 1 "$T/none.img" -- run --kernel "$G" --disk "$T/none.img" "${C[@]}"
        printf 'QFI\373\0\0\0\003garbage' >"$T/bad.qcow2"; head -c 4096 /dev/zero >>"$T/bad.qcow2"
        cp "$T/bad.qcow2" "$T/bad.copy"
        expect corrupt-qcow2 1 "$T/bad.qcow2" -- run --kernel "$G" --disk "$T/bad.qcow2" "${C[@]}"
        cmp -s "$T/bad.qcow2" "$T/bad.copy" || { echo "FAIL corrupt-qcow2: image was modified"; fail=1; }
        expect raw-as-qcow2 1 "$T/big.img" -- run --kernel "$G" --disk "$T/big.img,format=qcow2" "${C[@]}"
    fi
fi
XVM_KVM_DEVICE=$T/nokvm expect no-kvm 1 "no such device" -- run --kernel "$T/big.img" "${C[@]}"
[ -c /dev/kvm ] || echo "note: no /dev/kvm here: the kernel-content and image cases were not run"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && [ -c /dev/kvm ]; then
    chmod 755 "$T"; cp "$XVM" "$T/xvm"; chmod 755 "$T/xvm"
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$T/xvm" run --kernel "$T/big.img" 2>&1 </dev/null); rc=$?
    if [ $rc = 1 ] && echo "$out" | grep -q "/dev/kvm: permission denied"; then
        echo "ok   no-permission: $out"
    else
        echo "FAIL no-permission: status $rc: $out"; fail=1
    fi
fi
exit $fail
