#!/bin/bash
# image_cli.sh - `xvm image` against qemu-img/qemu-io: create, info, snapshot, clone, check,
# constant-time snapshot/clone, and one-line errors on bad input with nothing modified.
# usage: image_cli.sh XVM
set -u
XVM=$(realpath "$1")
if ! command -v qemu-img >/dev/null || ! command -v qemu-io >/dev/null; then
    echo "qemu-img/qemu-io not installed (apt-get install qemu-utils)"; exit 77
fi
T=$(mktemp -d); trap 'chmod -R u+w "$T"; rm -rf "$T"' EXIT
cd "$T" || exit 1
fail=0
ok()  { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
# run NAME CMD...: must succeed
run() { local n=$1; shift; if "$@" >"$T/out" 2>"$T/err"; then ok "$n"; else bad "$n: $(cat "$T/err")"; fi; }
# expect NAME STATUS PATTERN CMD...: status and exactly one stderr line matching PATTERN
expect() {
    local n=$1 want=$2 pat=$3; shift 3
    "$@" >"$T/out" 2>"$T/err"; local rc=$?
    if [ "$rc" != "$want" ] || [ "$(wc -l <"$T/err")" != 1 ] || ! grep -q -- "$pat" "$T/err"; then
        bad "$n: status $rc (want $want): $(cat "$T/err")"
    else ok "$n: $(cat "$T/err")"; fi
}
qio() { qemu-io -f "$1" -c "$2" "$3" >/dev/null; }

# create: qcow2 and raw, judged by qemu-img
run create-qcow2 "$XVM" image create disk.qcow2 1G
run qemu-check-new qemu-img check -q disk.qcow2
qemu-img info disk.qcow2 | grep -q "virtual size: 1 GiB" && ok qemu-sees-1G || bad qemu-sees-1G
run create-raw "$XVM" image create -f raw r.img 64M
[ "$(stat -c %s r.img)" = 67108864 ] && ok raw-size || bad raw-size
run create-small-cluster "$XVM" image create -c 4k small.qcow2 100M
qemu-img info small.qcow2 | grep -q "cluster_size: 4096" && ok cluster-4k || bad cluster-4k

# a chain: raw base (qemu-io pattern) <- xvm overlay; qemu-img agrees on content
qemu-img create -q -f raw base.raw 64M && qio raw "write -P 0xab 0 8M" base.raw
run create-overlay "$XVM" image create -b base.raw -F raw ov.qcow2
qemu-img compare -q ov.qcow2 base.raw && ok overlay-content || bad overlay-content
"$XVM" image info ov.qcow2 >info.txt 2>&1
grep -q "backing file: base.raw (format raw)" info.txt && grep -q "backing chain (2)" info.txt \
    && ok info-chain || bad "info-chain: $(cat info.txt)"

"$XVM" image info --json ov.qcow2 >info.json 2>&1
python3 -c 'import json,sys; v=json.load(open("info.json")); sys.exit(not (len(v)==2 and v[0]["backing-file"]=="base.raw" and v[1]["format"]=="raw" and v[0]["virtual-size"]==64<<20))' \
    && ok info-json || bad "info-json: $(cat info.json)"

# snapshot: content unchanged, base read-only, disk continues on an overlay
qio qcow2 "write -P 0x11 1M 3M" ov.qcow2
qemu-img convert -O raw ov.qcow2 before.raw
run snapshot "$XVM" image snapshot ov.qcow2 ov-base.qcow2
[ "$(stat -c %a ov-base.qcow2)" = 444 ] && ok base-mode-444 || bad "base mode $(stat -c %a ov-base.qcow2)"
qemu-img info ov.qcow2 | grep -q "backing file: ov-base.qcow2" && ok disk-on-overlay || bad disk-on-overlay
qemu-img compare -q ov.qcow2 before.raw && ok snapshot-content || bad snapshot-content
qio qcow2 "write -P 0x22 0 1M" ov.qcow2
qemu-img compare -q ov-base.qcow2 before.raw && ok base-frozen || bad base-frozen
run check-after-snapshot "$XVM" image check ov.qcow2
run qemu-check-base qemu-img check -q ov-base.qcow2
"$XVM" image snapshot ov.qcow2 >/dev/null 2>&1 && ls ov.snap-*.qcow2 >/dev/null 2>&1 \
    && ok default-base-name || bad default-base-name

# clone: of a frozen base directly; of a writable disk through a snapshot
run clone-frozen "$XVM" image clone ov-base.qcow2 c1.qcow2
qemu-img compare -q c1.qcow2 before.raw && ok clone-content || bad clone-content
qio qcow2 "write -P 0x33 0 4M" c1.qcow2
qemu-img compare -q ov-base.qcow2 before.raw && ok clone-isolated || bad clone-isolated
run clone-writable "$XVM" image clone disk.qcow2 c2.qcow2
qemu-img info c2.qcow2 | grep -q "backing file: disk.snap-" && ok clone-via-snapshot || bad clone-via-snapshot
qemu-img info disk.qcow2 | grep -q "backing file: disk.snap-" && ok source-continues || bad source-continues

# constant time: a 2 TiB disk with data snapshots and clones as fast as a tiny one
"$XVM" image create huge.qcow2 2T && qio qcow2 "write -P 0x44 1T 16M" huge.qcow2
t0=$(date +%s%N); "$XVM" image snapshot huge.qcow2 huge-base.qcow2 >/dev/null || bad huge-snapshot
t1=$(date +%s%N); "$XVM" image clone huge-base.qcow2 huge-c.qcow2 >/dev/null || bad huge-clone
t2=$(date +%s%N)
ms_s=$(( (t1 - t0) / 1000000 )); ms_c=$(( (t2 - t1) / 1000000 ))
echo "     snapshot of 2 TiB: ${ms_s} ms, clone: ${ms_c} ms"
[ "$ms_s" -lt 500 ] && [ "$ms_c" -lt 500 ] && ok constant-time || bad "constant-time: $ms_s ms / $ms_c ms"
qemu-io -f qcow2 -r -c "read -P 0x44 1T 16M" huge-c.qcow2 | grep -q "read 16777216" && ok huge-clone-data || bad huge-clone-data

# compressed images made by qemu-img read through xvm's chain
qemu-img convert -c -O qcow2 before.raw comp.qcow2
run overlay-on-compressed "$XVM" image create -b comp.qcow2 -F qcow2 oc.qcow2
run check-compressed "$XVM" image check comp.qcow2

# bad input: one line, non-zero, nothing modified
expect missing 1 "nothere.qcow2: No such file" "$XVM" image info nothere.qcow2
expect create-exists 1 "disk.qcow2: File exists" "$XVM" image create disk.qcow2 1G
expect unknown-format 2 "unknown format 'vmdk'" "$XVM" image create -f vmdk x.img 1G
expect bad-size 2 "size '12X'" "$XVM" image create x.qcow2 12X
cp c1.qcow2 corrupt.qcow2; printf '\x00\x00\x00\x63' | dd of=corrupt.qcow2 bs=1 seek=4 conv=notrunc 2>/dev/null
sum=$(md5sum <corrupt.qcow2)
expect corrupt-header 1 "unsupported qcow2 version" "$XVM" image check corrupt.qcow2
expect corrupt-snapshot 1 "unsupported qcow2 version" "$XVM" image snapshot corrupt.qcow2
if [ "$sum" = "$(md5sum <corrupt.qcow2)" ] && ! ls corrupt.snap-* >/dev/null 2>&1; then
    ok corrupt-untouched; else bad corrupt-untouched; fi
n_before=$(ls | wc -l)
expect clone-dst-exists 1 "c1.qcow2: File exists" "$XVM" image clone ov.qcow2 c1.qcow2
[ "$(ls | wc -l)" = "$n_before" ] && ok clone-dst-exists-untouched || bad clone-dst-exists-untouched
expect readonly-snapshot 1 "read-only" "$XVM" image snapshot ov-base.qcow2
# a backing loop (l1 -> l2 -> l1), names patched in place
qemu-img create -q -f qcow2 l0.qcow2 1M
qemu-img create -q -f qcow2 -b l0.qcow2 -F qcow2 l1.qcow2
qemu-img create -q -f qcow2 -b l1.qcow2 -F qcow2 l2.qcow2
off=$(grep -abo 'l0\.qcow2' l1.qcow2 | head -1 | cut -d: -f1)
printf 'l2' | dd of=l1.qcow2 bs=1 seek="$off" conv=notrunc 2>/dev/null
expect backing-loop 1 "backing loop" "$XVM" image info l2.qcow2
# a leak is reported like qemu-img does (exit 3) and qemu-img agrees
"$XVM" image create leak.qcow2 1M
qemu-io -f qcow2 -c "write 0 64k" leak.qcow2 >/dev/null
# bump cluster 0's refcount: the first refcount block's offset is in the table at 64k
rb=$(od -An -tx8 --endian=big -j 65536 -N 8 leak.qcow2 | tr -d ' ')
printf '\x00\x02' | dd of=leak.qcow2 bs=1 seek=$((16#$rb)) conv=notrunc 2>/dev/null
"$XVM" image check leak.qcow2 >/dev/null 2>&1; rc=$?
qemu-img check -q leak.qcow2 >/dev/null 2>&1; qrc=$?
[ "$rc" = 3 ] && [ "$qrc" = 3 ] && ok "leak: xvm $rc, qemu-img $qrc" || bad "leak: xvm $rc, qemu-img $qrc"

[ "$fail" = 0 ] && echo "image_cli: all passed"
exit "$fail"
