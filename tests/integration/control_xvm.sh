#!/bin/bash
# control_xvm.sh - the VMM control socket (`xvm run --control`) with the test
# guest in serve mode: status, malformed lines, pause (no ticks) and unpause,
# stats that move, the ACPI power button (guest powers off, exit status 0 and
# exit.json), --paused, subscribe + quit (status 4, stop event), disk
# counters, --console-log, the socket gone at exit.
# usage: control_xvm.sh XVM TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$1 ELF=$2
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3 for the control client"; exit 77; }
T=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$T"' EXIT
pid=
fail() { echo "FAIL: $*"; tail -5 "$T/out" 2>/dev/null | sed 's/^/  guest| /'
         sed 's/^/  xvm| /' "$T/err" 2>/dev/null; exit 1; }

# ctl REQUEST...: send each JSON line, print each reply line
cat >"$T/ctl.py" <<'EOF'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
f = s.makefile("rw")
for line in sys.argv[2:]:
    f.write(line + "\n"); f.flush()
    print(f.readline().strip())
if sys.argv[-1] == '{"cmd": "quit"}':
    for ev in f:          # a subscriber gets the stop event before EOF
        print(ev.strip())
EOF
ctl() { python3 "$T/ctl.py" "$T/c.sock" "$@"; }
# field JSON KEY: one top-level value
field() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(json.dumps(v) if isinstance(v,(dict,list)) else v)' "$1" "$2"; }
ticks() { grep -c '^XTEST-TICK' "$T/out"; }
ticks_ge() { [ "$(ticks)" -ge "$1" ]; }
wait_for() {  # wait_for CMD...: up to 10 s
    for _ in $(seq 100); do "$@" && return 0; sleep 0.1; done; return 1; }
start() {
    rm -f "$T/exit.json" "$T/out" "$T/err"
    "$XVM" run --kernel "$ELF" --memory 64M --name ctltest --domid 5 \
        --control "$T/c.sock" --exit-file "$T/exit.json" "$@" </dev/null >"$T/out" 2>"$T/err" &
    pid=$!
    wait_for test -S "$T/c.sock" || fail "no control socket"
}
finish() {  # finish WANT_STATUS
    local rc
    for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
    kill -0 $pid 2>/dev/null && fail "xvm still running 10 s after the stop"
    wait $pid; rc=$?; pid=
    [ $rc = "$1" ] || fail "exit status $rc, want $1"
    [ -e "$T/c.sock" ] && fail "the control socket is still there after exit"
    [ -s "$T/exit.json" ] || fail "no exit.json"
}

# --- run 1: status, malformed, pause/unpause, stats, power button ---
start --vcpus 2 --cmdline "tests=serve" --console "file:$T/out" --console-log "$T/con.log"
[ "$(stat -c %a "$T/c.sock")" = 600 ] || fail "socket mode $(stat -c %a "$T/c.sock"), want 600"
wait_for grep -q '^XTEST-TICK 3$' "$T/out" || fail "the guest does not tick"
r=$(ctl '{"id": 1, "cmd": "status"}')
[ "$(field "$r" ok)" = True ] && [ "$(field "$r" state)" = running ] && [ "$(field "$r" id)" = 1 ] &&
    [ "$(field "$r" name)" = ctltest ] && [ "$(field "$r" domid)" = 5 ] &&
    [ "$(field "$r" pid)" = $pid ] && [ "$(field "$r" vcpus)" = 2 ] ||
    fail "status: $r"
echo "ok: status: $r"

out=$(ctl '{"cmd": "status"' '[1,2]' '{"cmd": 7}' '{"cmd": "frobnicate"}' '{"id": "x", "cmd": "status"}')
[ "$(sed -n 1p <<<"$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])')" = False ] ||
    fail "malformed JSON not refused: $out"
[ "$(grep -c '"ok":false' <<<"$out")" = 4 ] || fail "want 4 refusals: $out"
grep -q '"id":"x".*"ok":true' <<<"$out" || fail "connection unusable after bad lines: $out"
echo "ok: malformed lines -> ok:false, the connection keeps working"

s1=$(ctl '{"cmd": "stats"}')
r=$(ctl '{"cmd": "pause"}')
[ "$(field "$r" ok)" = True ] || fail "pause: $r"
[ "$(field "$(ctl '{"cmd": "status"}')" state)" = paused ] || fail "state not paused"
n0=$(ticks); sleep 1; n1=$(ticks)
[ "$n1" -le $((n0 + 1)) ] || fail "paused guest still ticks ($n0 -> $n1 in 1 s)"
vs=$(field "$(ctl '{"cmd": "stats"}')" vcpus)
[ "$(grep -o '"state": "paused"' <<<"$vs" | wc -l)" = 2 ] || fail "stats: both vCPUs must be paused: $vs"
r=$(ctl '{"cmd": "unpause"}')
[ "$(field "$r" ok)" = True ] || fail "unpause: $r"
wait_for ticks_ge $((n1 + 3)) || fail "ticks did not resume after unpause"
echo "ok: pause -> $((n1 - n0)) ticks in 1 s; unpause -> ticking again"

s2=$(ctl '{"cmd": "stats"}')
python3 - "$s1" "$s2" <<'EOF' || fail "stats: $s2"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert b["ok"] and b["cpu_ns"] > a["cpu_ns"] > 0, "cpu_ns must grow"
assert b["uptime_ms"] > a["uptime_ms"]
assert len(b["vcpus"]) == 2 and all(v["tid"] > 0 for v in b["vcpus"])
assert b["cpu_ns"] == sum(v["cpu_ns"] for v in b["vcpus"])
assert b["memory_bytes"] == 64 << 20
assert 0 < b["memory_touched_bytes"] <= b["memory_bytes"]
assert b["exits"] and sum(b["exits"].values()) > sum(a["exits"].values())
assert b["exits"].get("xvm_io", 0) > 0, "the guest's port I/O must be counted"
print("ok: stats: cpu_ns %d -> %d, touched %d KiB, exits %s" % (
    a["cpu_ns"], b["cpu_ns"], b["memory_touched_bytes"] >> 10,
    ", ".join("%s=%d" % kv for kv in sorted(b["exits"].items()) if kv[1])))
EOF

r=$(ctl '{"cmd": "power-button"}')
[ "$(field "$r" ok)" = True ] || fail "power-button: $r"
finish 0
grep -q '^XTEST-PWRBTN' "$T/out" || fail "the guest did not see the power button"
e=$(cat "$T/exit.json")
[ "$(field "$e" status)" = 0 ] && [ "$(field "$e" stop)" = poweroff ] || fail "exit.json: $e"
grep -q '^XTEST-TICK' "$T/con.log" || fail "--console-log holds no ticks"
echo "ok: power button -> guest powered off, status 0, exit.json $e"

# --- run 2: --paused, a disk the guest reads every tick, subscribe + quit ---
head -c 1M /dev/zero >"$T/disk.img"
start --paused --cmdline "tests=serve serve.blk=1" --console "file:$T/out" \
    --disk "$T/disk.img,id=d0"
sleep 0.5
[ -s "$T/out" ] && fail "--paused: the guest ran: $(head -c 80 "$T/out")"
[ "$(field "$(ctl '{"cmd": "status"}')" state)" = paused ] || fail "--paused: state not paused"
d=$(ctl '{"cmd": "devices"}')
python3 -c 'import json,sys; d=json.loads(sys.argv[1])["disks"][0]; assert d["id"]=="d0" and d["format"]=="raw" and d["readonly"] is False and d["path"].endswith("disk.img"), d' "$d" ||
    fail "devices: $d"
ctl '{"cmd": "unpause"}' >/dev/null
wait_for grep -q '^XTEST-TICK 3 io=3$' "$T/out" || fail "serve.blk: no reads done: $(tail -2 "$T/out")"
st=$(ctl '{"cmd": "stats"}')
python3 -c 'import json,sys; d=json.loads(sys.argv[1])["disks"][0]; assert d["rd_reqs"]>=3 and d["rd_sectors"]>=24 and d["errors"]==0, d' "$st" ||
    fail "disk counters: $st"
echo "ok: --paused holds the vCPUs; devices lists d0; disk counters move"
out=$(ctl '{"cmd": "subscribe"}' '{"cmd": "quit"}')
grep -q '"event":"stop","status":4' <<<"$out" || fail "no stop event for the subscriber: $out"
finish 4
e=$(cat "$T/exit.json")
[ "$(field "$e" status)" = 4 ] && [ "$(field "$e" stop)" = killed ] &&
    grep -q 'control request' <<<"$e" || fail "exit.json after quit: $e"
echo "ok: subscribe + quit -> stop event, status 4, exit.json $e"

# --- reset -> status 2; SIGTERM -> 4; a guest crash -> 3: each leaves exit.json ---
start --cmdline "tests=serve" --console null
r=$(ctl '{"cmd": "reset"}')
[ "$(field "$r" ok)" = True ] || fail "reset: $r"
finish 2
[ "$(field "$(cat "$T/exit.json")" stop)" = reboot ] || fail "exit.json after reset: $(cat "$T/exit.json")"
start --cmdline "tests=serve" --console null
kill -TERM $pid
finish 4
grep -q '"stop":"killed","reason":"stopped by signal Terminated"' "$T/exit.json" ||
    fail "exit.json after SIGTERM: $(cat "$T/exit.json")"
rm -f "$T/exit.json"   # a run that ends by itself at once: no socket wait
"$XVM" run --kernel "$ELF" --memory 64M --control "$T/c.sock" --exit-file "$T/exit.json" \
    --console null --cmdline "tests=crash" </dev/null 2>/dev/null
rc=$?
[ $rc = 3 ] || fail "pvpanic run: status $rc, want 3"
[ -e "$T/c.sock" ] && fail "the control socket is still there after a crash"
grep -q '"stop":"crash","reason":"pvpanic: guest kernel panicked"' "$T/exit.json" ||
    fail "exit.json after a guest panic: $(cat "$T/exit.json")"
echo "ok: reset -> 2 (reboot), SIGTERM -> 4 (killed), pvpanic -> 3 (crash), each with exit.json"

# --- bad input: a path that is not a socket is refused, nothing replaced ---
touch "$T/c.sock"
"$XVM" run --kernel "$ELF" --control "$T/c.sock" --exit-file "$T/exit.json" </dev/null 2>"$T/err"
rc=$?
[ $rc = 1 ] || fail "--control on a plain file: status $rc, want 1"
[ -f "$T/c.sock" ] && [ ! -S "$T/c.sock" ] || fail "the plain file was replaced"
grep -q 'exists and is not a socket' "$T/err" || fail "no reason: $(cat "$T/err")"
[ "$(field "$(cat "$T/exit.json")" stop)" = error ] || fail "exit.json after an error: $(cat "$T/exit.json")"
echo "ok: --control on a plain file -> status 1, exit.json stop=error"
exit 0
