#!/bin/bash
# net_hotplug_xvmd.sh - network hotplug through xvmd: in a private network
# namespace with a bridge, `xvm network-attach` gives the running test guest
# (tests=hotplug) a NIC through ACPI PCI hotplug (the guest prints its MAC),
# network-list shows it, network-detach has the guest eject it and the tap
# goes; a missing bridge is refused in one line with nothing left behind.
# Traffic never leaves the namespace.
# usage: net_hotplug_xvmd.sh XVM TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$(realpath "$1") ELF=$(realpath "$2")
XVMD=$(dirname "$XVM")/xvmd
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a bridge and taps in a network namespace)"; exit 77; }
[ -x "$XVMD" ] || { echo "SKIP: no xvmd next to $XVM"; exit 77; }
command -v unshare >/dev/null && command -v ip >/dev/null ||
    { echo "SKIP: needs unshare and ip (util-linux, iproute2)"; exit 77; }
if [ "${XVM_NETNS_INNER:-}" != 1 ]; then
    XVM_NETNS_INNER=1 exec unshare --net -- "$0" "$@"
fi

T=$(mktemp -d)
export XVM_RUNDIR=$T/run XVM_STORE_SOCKET=$T/store.sock XVMD_SOCKET=$T/run/xvmd.sock
mkdir -p "$XVM_RUNDIR"
dpid=
cleanup() {
    "$XVM" destroy nethp >/dev/null 2>&1
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
    [ -f "$XVM_RUNDIR/xvmstored.pid" ] && kill "$(cat "$XVM_RUNDIR/xvmstored.pid")" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -5 "$XVM_RUNDIR/xvmd.log" 2>/dev/null | sed 's/^/  xvmd| /'; exit 1; }
wait_for() { local n=$(( $1 * 10 )); shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done; return 1; }
con() { "$XVM" dmesg nethp 2>/dev/null | grep -q "$1"; }
taps() { ip -o link show | awk -F': ' '$2 != "lo" && $2 != "xbr0" { print $2 }' | sed 's/@.*//'; }

ip link set lo up && ip link add xbr0 type bridge && ip link set xbr0 up || fail "bridge setup"
"$XVMD" --socket "$XVMD_SOCKET" >"$T/dlog" 2>&1 &
dpid=$!
wait_for 10 test -S "$XVMD_SOCKET" || fail "xvmd did not start: $(tail -2 "$T/dlog")"
cat >"$T/hp.cfg" <<CFG
name = "nethp"
kernel = "$ELF"
memory = 64
extra = "tests=hotplug hotplug.secs=20"
on_poweroff = "preserve"
CFG
"$XVM" create "$T/hp.cfg" 2>/dev/null || fail "create"
wait_for 10 con 'XTEST-HOTPLUG ready' || fail "guest not ready: $("$XVM" dmesg nethp | tail -2)"

# bad input first: a bridge that does not exist -> one line, no tap, nothing listed
err=$("$XVM" network-attach nethp bridge=nosuchbr 2>&1); rc=$?
[ $rc = 1 ] && [ "$(printf '%s\n' "$err" | wc -l)" = 1 ] && [[ $err == *nosuchbr* ]] ||
    fail "network-attach to a missing bridge: rc $rc: $err"
[ -z "$(taps)" ] || fail "a tap was left after the refused attach: $(taps)"
echo "ok   missing bridge refused: $err"

MAC=00:16:3e:5a:17:01
"$XVM" network-attach nethp "bridge=xbr0,mac=$MAC" || fail "network-attach"
wait_for 10 con "XTEST-HOTPLUG added slot=[0-9]* dev=net mac=$MAC" ||
    fail "the guest did not see the NIC: $("$XVM" dmesg nethp | tail -2)"
"$XVM" network-list nethp | grep -q "$MAC" || fail "network-list: $("$XVM" network-list nethp)"
tap=$(taps)
[ -n "$tap" ] && ip -o link show "$tap" | grep -q "master xbr0" ||
    fail "no tap in xbr0 for the NIC: $(ip -o link show)"
echo "ok   network-attach: the guest sees $MAC, tap $tap in xbr0"

"$XVM" network-detach nethp "$MAC" || fail "network-detach"
wait_for 10 con 'XTEST-HOTPLUG ejected slot=' && wait_for 10 con 'XTEST-HOTPLUG gone slot=' ||
    fail "the guest did not eject the NIC: $("$XVM" dmesg nethp | tail -2)"
wait_for 5 sh -c "! '$XVM' network-list nethp | grep -q '$MAC'" || fail "NIC still listed"
notaps() { [ -z "$(taps)" ]; }
wait_for 5 notaps || fail "tap left after detach: $(taps)"
echo "ok   network-detach: the guest ejected it, the tap is gone"
echo "PASS: network hotplug through xvmd"
