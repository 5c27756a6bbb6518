#!/bin/bash
# hotplug_ctl.sh - PCI hotplug through the control socket: `xvm run
# --control` with the test guest (tests=hotplug); disk-add of a raw image
# holding a marker -> device-added event, `devices` lists it, the guest
# reads the marker; disk-remove -> the guest ejects, device-removed
# (how=ejected), `devices` no longer lists it. Bad input: disk-add of a
# missing file and disk-remove of an unknown id each get one error line and
# change nothing; nic-remove of the disk's id is refused.
# usage: hotplug_ctl.sh XVM TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$1 ELF=$2
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3 for the control client"; exit 77; }
T=$(mktemp -d); pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; sed 's/^/  py| /' "$T/py" 2>/dev/null; sed 's/^/  con| /' "$T/con" 2>/dev/null
         sed 's/^/  xvm| /' "$T/err" 2>/dev/null; exit 1; }

head -c 1048576 /dev/zero >"$T/disk.raw"
printf 'XVM-HOTPLUG-OK!!' | dd of="$T/disk.raw" conv=notrunc status=none
cat >"$T/drive.py" <<'PY'
import json, socket, sys, time
sock, con, disk = sys.argv[1:4]
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sock)
f = s.makefile("rw")
events = []
def req(**kw):
    f.write(json.dumps(kw) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "event" in m: events.append(m); continue
        print("reply", kw["cmd"], json.dumps(m, sort_keys=True), flush=True)
        return m
def wait_event(name, t=20):
    end = time.time() + t
    while time.time() < end:
        for e in events:
            if e["event"] == name: events.remove(e); return e
        events.append(json.loads(f.readline()))
    raise SystemExit("FAIL no %s event" % name)
def wait_con(text, t=20):
    end = time.time() + t
    while time.time() < end:
        if text in open(con, errors="replace").read(): return
        time.sleep(0.05)
    raise SystemExit("FAIL console never showed " + text)
def ndisks(): return len(req(cmd="devices")["disks"])
req(cmd="subscribe")
wait_con("XTEST-HOTPLUG ready")
n0 = ndisks()
r = req(cmd="disk-add", spec="/nonexistent/none.img")
assert not r["ok"] and "\n" not in r["error"] and "/nonexistent/none.img" in r["error"], r
assert ndisks() == n0
r = req(cmd="disk-remove", id="nosuch")
assert not r["ok"] and "nosuch" in r["error"], r
r = req(cmd="disk-add", spec=disk + ",format=raw,id=hp0")
assert r["ok"] and r["id"] == "hp0", r
slot = r["slot"]
e = wait_event("device-added"); assert e["id"] == "hp0" and e["slot"] == slot, e
d = req(cmd="devices")["disks"]
assert any(x["id"] == "hp0" and x["slot"] == slot for x in d), d
wait_con("XTEST-HOTPLUG added slot=%d dev=blk sector0=XVM-HOTPLUG-OK!!" % slot)
print("ok   disk-add: slot %d, listed, guest read the marker" % slot, flush=True)
r = req(cmd="nic-remove", id="hp0"); assert not r["ok"], r
r = req(cmd="disk-remove", id="hp0", timeout_ms=10000); assert r["ok"], r
e = wait_event("device-removed"); assert e["id"] == "hp0" and e["how"] == "ejected", e
assert not any(x["id"] == "hp0" for x in req(cmd="devices")["disks"])
wait_con("XTEST-HOTPLUG gone slot=%d" % slot)
print("ok   disk-remove: guest ejected, device-removed how=ejected, no longer listed", flush=True)
PY
"$XVM" run --kernel "$ELF" --memory 64M --no-rng --control "$T/c.sock" \
    --cmdline "tests=hotplug" --console "file:$T/con" </dev/null 2>"$T/err" &
pid=$!
for _ in $(seq 100); do [ -S "$T/c.sock" ] && break; sleep 0.1; done
[ -S "$T/c.sock" ] || fail "no control socket"
timeout 60 python3 "$T/drive.py" "$T/c.sock" "$T/con" "$T/disk.raw" >"$T/py" 2>&1 || fail "control client"
grep '^ok' "$T/py"
grep -q '^reply disk-add .*"error": "disk-add: disk .*/nonexistent/none.img.*No such file' "$T/py" ||
    fail "the bad disk-add error is not the expected one line"
echo "ok   bad input: $(sed -n 's/^reply disk-add .*"error": "\([^"]*\)".*/\1/p' "$T/py" | head -1)"
wait $pid; rc=$?; pid=
[ $rc = 0 ] || fail "xvm exit $rc"
grep -q '^XTEST hotplug PASS' "$T/con" || fail "guest test did not pass"
echo "ok   guest test passed, xvm exit 0"

# run 2: a hot-added disk still present when the run ends (quit): torn down
# with the machine, the stop event is the last line, nothing touches the
# closed socket (an ASan build reports a use-after-free otherwise)
rm -f "$T/c.sock"
"$XVM" run --kernel "$ELF" --memory 64M --no-rng --control "$T/c.sock" \
    --cmdline "tests=serve" --console "file:$T/con2" </dev/null 2>"$T/err" &
pid=$!
for _ in $(seq 100); do [ -S "$T/c.sock" ] && break; sleep 0.1; done
[ -S "$T/c.sock" ] || fail "no control socket (run 2)"
python3 - "$T/c.sock" "$T/disk.raw" >"$T/py" 2>&1 <<'PY' || fail "control client (run 2)"
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
f = s.makefile("rw")
for r in ({"cmd": "subscribe"}, {"cmd": "disk-add", "spec": sys.argv[2] + ",id=left"},
          {"cmd": "quit"}):
    f.write(json.dumps(r) + "\n"); f.flush()
for line in f:
    print(line.strip())
PY
wait $pid; rc=$?; pid=
[ $rc = 4 ] || fail "xvm exit $rc after quit, want 4"
grep -q '"event":"device-added"' "$T/py" || fail "no device-added event (run 2)"
tail -1 "$T/py" | grep -q '"event":"stop"' || fail "the stop event is not the last line"
grep -q 'AddressSanitizer\|runtime error' "$T/err" && fail "sanitizer report at exit"
grep -q 'hotplug: disk left removed from slot [0-9]* (shutdown)' "$T/err" ||
    fail "the disk left attached was not torn down at exit"
echo "ok   quit with a hot-added disk attached: torn down at exit, stop event last, exit 4"
