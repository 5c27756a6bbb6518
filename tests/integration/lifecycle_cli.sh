#!/bin/bash
# lifecycle_cli.sh - the xl verbs against the real xvmd with the test guest in
# serve mode: create from an xl.cfg, list, pause (no ticks) / unpause, top -b
# columns that move with guest I/O, block-attach/-detach in block-list,
# unknown domain and duplicate name errors, reboot (restarted), shutdown -w
# (power button, the guest powers off), destroy.
# usage: lifecycle_cli.sh XVM TESTGUEST [XVMD]   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$(realpath "$1") ELF=$(realpath "$2") XVMD=${3:+$(realpath "$3")}
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
if [ -z "$XVMD" ]; then
    for c in "$(dirname "$XVM")/xvmd" "$(dirname "$XVM")/toolstack/xvmd"; do
        [ -x "$c" ] && XVMD=$c && break
    done
fi
[ -n "$XVMD" ] && [ -x "$XVMD" ] || { echo "SKIP: no xvmd binary next to $XVM (not built yet)"; exit 77; }
T=$(mktemp -d)
export XVM_RUNDIR=$T/run XVM_STORE_SOCKET=$T/store.sock XVMD_SOCKET=$T/run/xvmd.sock
mkdir -p "$XVM_RUNDIR"
dpid=
cleanup() {
    for d in $("$XVM" list 2>/dev/null | awk 'NR > 1 { print $2 }'); do
        "$XVM" destroy "$d" >/dev/null 2>&1
    done
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    [ -f "$XVM_RUNDIR/xvmstored.pid" ] && kill "$(cat "$XVM_RUNDIR/xvmstored.pid")" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$XVM_RUNDIR/xvmd.log" 2>/dev/null | sed 's/^/  xvmd| /'
         tail -3 "$T/dlog" 2>/dev/null | sed 's/^/  xvmd-stderr| /'; exit 1; }
wait_for() {  # wait_for SECS CMD...
    local n=$(( $1 * 10 )); shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
ticks() { "$XVM" dmesg clitest 2>/dev/null | grep -c '^XTEST-TICK'; }
ticks_ge() { [ "$(ticks)" -ge "$1" ]; }
# one_line_error CMD...: exit 1 and exactly one stderr line "xvm: ..."
one_line_error() {
    local err rc
    err=$("$XVM" "$@" 2>&1 >/dev/null); rc=$?
    [ $rc = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [[ $err == xvm:* ]] ||
        fail "'xvm $*': want exit 1 and one line, got $rc: $err"
    printf '%s\n' "$err"
}
state() { "$XVM" list clitest 2>/dev/null | awk 'NR == 2 { print $5 }'; }

"$XVMD" --socket "$XVMD_SOCKET" >"$T/dlog" 2>&1 &
dpid=$!
wait_for 10 test -S "$XVMD_SOCKET" || fail "xvmd did not create $XVMD_SOCKET"

# relative paths (disk, block-attach) resolve in the CLI's directory, as with xl
cd "$T" || fail "cd $T"
truncate -s 16M a.raw b.raw
cat >"$T/cli.cfg" <<CFG
# the test guest, ticking every 100 ms and reading a block per tick
name = "clitest"
kernel = "$ELF"
memory = 64
vcpus = 1
extra = "tests=serve serve.blk=1"
disk = [ "a.raw,raw,xvda,w" ]
on_poweroff = "destroy"
on_reboot = "restart"
CFG

# --- create, list ---
"$XVM" create cli.cfg 2>"$T/create.err" || fail "create: $(cat "$T/create.err")"
grep -q 'created domain clitest' "$T/create.err" || fail "create said: $(cat "$T/create.err")"
"$XVM" list | awk 'NR == 1 && /^Name +ID +Mem VCPUs\tState\tTime\(s\)$/ { h = 1 }
    $1 == "clitest" && $3 == 64 && $4 == 1 { r = 1 } END { exit !(h && r) }' ||
    fail "list: $("$XVM" list)"
wait_for 10 ticks_ge 3 || fail "the guest does not tick (dmesg: $("$XVM" dmesg clitest | tail -2))"

# --- errors: duplicate name, unknown domain ---
err=$(one_line_error create "$T/cli.cfg")
[[ $err == *clitest* ]] || fail "duplicate name error does not name it: $err"
err=$(one_line_error pause nosuchdomain)
[[ $err == *nosuchdomain* ]] || fail "unknown domain error does not name it: $err"
one_line_error block-list nosuchdomain >/dev/null

# --- pause: no ticks; unpause: ticks again ---
"$XVM" pause clitest || fail "pause"
[[ $(state) == *p* ]] || fail "state after pause: $(state)"
n=$(ticks); sleep 0.6; m=$(ticks)
[ $((m - n)) -le 1 ] || fail "paused guest ticked $n -> $m"
"$XVM" unpause clitest || fail "unpause"
wait_for 5 ticks_ge $((m + 3)) || fail "no ticks after unpause"
[[ $(state) != *p* ]] || fail "state after unpause: $(state)"

# --- top -b: two samples, the guest's reads and CPU time move ---
"$XVM" top -b -i 2 -d 1 >"$T/top" || fail "top -b"
[ "$(grep -c '^      NAME  STATE   CPU(sec) CPU(%)' "$T/top")" = 2 ] || fail "top header: $(cat "$T/top")"
awk '$1 == "clitest" { n++; rd[n] = $15; vbds[n] = $13; pct[n] = $4 }
     END { exit !(n == 2 && rd[2] > rd[1] && vbds[2] == 1 && pct[2] > 0) }' "$T/top" ||
    fail "top columns did not move: $(cat "$T/top")"
# -x -v: the disk's VBD line (xvda = Xen device 51712) and the vCPU line, from live counters
"$XVM" top -b -i 1 -x -v -r >"$T/topx" || fail "top -b -x -v"
awk '/^VBD BlkBack 51712 \[ca: 0\]  OO: / && $8 == "RD:" && $9 > 0 { vbd = 1 } /^VCPUs\(sec\):   0: / { v = 1 }
     END { exit !(vbd && v) }' "$T/topx" || fail "top -x -v detail lines: $(cat "$T/topx")"
"$XVM" vcpu-list clitest | awk '$1 == "clitest" && $3 == 0 { ok = 1 } END { exit !ok }' ||
    fail "vcpu-list: $("$XVM" vcpu-list clitest)"

# --- block hotplug ---
"$XVM" block-attach clitest "b.raw,raw,xvdb,w" || fail "block-attach"
wait_for 5 sh -c "'$XVM' block-list clitest | grep -q ' xvdb '" ||
    fail "xvdb not in block-list: $("$XVM" block-list clitest)"
"$XVM" block-list clitest | grep -q " $T/b.raw" ||
    fail "block-attach b.raw not resolved to $T/b.raw: $("$XVM" block-list clitest)"
"$XVM" block-detach clitest xvdb || fail "block-detach"
wait_for 10 sh -c "! '$XVM' block-list clitest | grep -q ' xvdb '" ||
    fail "xvdb still in block-list: $("$XVM" block-list clitest)"

# --- rename and back ---
"$XVM" rename clitest clitest2 && "$XVM" list clitest2 >/dev/null &&
    "$XVM" rename clitest2 clitest || fail "rename"

# --- reboot: on_reboot=restart, the guest starts again ---
"$XVM" dmesg -c clitest >/dev/null
"$XVM" reboot clitest || fail "reboot"
wait_for 15 sh -c "'$XVM' dmesg clitest 2>/dev/null | grep -q '^XTEST-SERVE'" ||
    fail "the guest did not start again after reboot"
"$XVM" list clitest >/dev/null || fail "clitest gone after reboot"

# --- shutdown -w: the power button, the guest powers off, on_poweroff=destroy ---
wait_for 10 ticks_ge 2 || fail "no ticks after reboot"
"$XVM" shutdown -w -t 20 clitest || fail "shutdown -w"
"$XVM" list clitest >/dev/null 2>&1 && fail "clitest still listed after shutdown -w"

# --- hotplug seen by the guest: block-attach -> ACPI PCI hotplug -> the test
#     guest reads the new disk's marker; block-detach -> it ejects the slot ---
printf 'XVM-HOTPLUG-OK!!' | dd of=m.raw conv=notrunc status=none
truncate -s 1M m.raw
cat >hp.cfg <<CFG
name = "hptest"
kernel = "$ELF"
memory = 64
extra = "tests=hotplug hotplug.secs=20"
on_poweroff = "preserve"
CFG
"$XVM" create hp.cfg 2>/dev/null || fail "create hp.cfg"
hp_con() { "$XVM" dmesg hptest 2>/dev/null | grep -q "$1"; }
wait_for 10 hp_con 'XTEST-HOTPLUG ready' || fail "hotplug guest not ready: $("$XVM" dmesg hptest | tail -2)"
"$XVM" block-attach hptest m.raw,raw,xvdb,w || fail "block-attach hptest"
wait_for 10 hp_con 'XTEST-HOTPLUG added slot=[0-9]* dev=blk sector0=XVM-HOTPLUG-OK!!' ||
    fail "the guest did not see the attached disk: $("$XVM" dmesg hptest | tail -2)"
"$XVM" block-detach hptest xvdb || fail "block-detach hptest"
wait_for 10 hp_con 'XTEST-HOTPLUG ejected slot=' && wait_for 10 hp_con 'XTEST-HOTPLUG gone slot=' ||
    fail "the guest did not eject the detached disk: $("$XVM" dmesg hptest | tail -2)"
"$XVM" block-list hptest 2>/dev/null | grep -q ' xvdb ' && fail "xvdb still listed after detach"
"$XVM" destroy hptest 2>/dev/null
echo "ok   block-attach/-detach seen by the guest through ACPI PCI hotplug"

# --- create -p, destroy ---
"$XVM" create -p "$T/cli.cfg" 2>/dev/null || fail "create -p"
[[ $(state) == *p* ]] || fail "create -p: state $(state)"
"$XVM" destroy clitest || fail "destroy"
"$XVM" list clitest >/dev/null 2>&1 && fail "clitest still listed after destroy"
cat "$T/top"
echo "PASS: lifecycle through the xvm CLI"
exit 0
