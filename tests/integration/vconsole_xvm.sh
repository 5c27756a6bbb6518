#!/bin/bash
# vconsole_xvm.sh - virtio-console under `xvm run --vconsole`: the host connects to
# the port's Unix socket, reads the guest's hello line, sends a line and reads the
# guest's echo; the guest's short control message makes the device need a reset;
# the socket is gone after the run; bad --vconsole values fail with one line and
# leave nothing behind; without --vconsole the device is absent (the test skips).
# usage: vconsole_xvm.sh XVM TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$(readlink -f "$1") ELF=$2
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
PY=$(command -v python3) || { echo "SKIP: no python3 for the host side"; exit 77; }
T=$(mktemp -d); trap 'kill $pid 2>/dev/null; rm -rf "$T"' EXIT
pid=
fail() { echo "FAIL: $*"; sed 's/^/  guest| /' "$T/out"; sed 's/^/  xvm| /' "$T/err"
         [ -f "$T/host" ] && sed 's/^/  host| /' "$T/host"; exit 1; }

# the toolstack side: connect, read the hello, send a line, expect the echo
cat >"$T/host.py" <<'EOF'
import os, socket, sys, time
path = sys.argv[1]
for _ in range(200):                       # the VMM creates the socket at start
    if os.path.exists(path):
        break
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(path)
f = s.makefile("rb")
hello = f.readline().decode()
print("got", hello.strip())
if hello != "XVM-VCON-HELLO org.xvm.agent\n":
    sys.exit("bad hello %r" % hello)
msg = "from-host-%d" % os.getpid()
s.sendall((msg + "\n").encode())
echo = f.readline().decode()
print("got", echo.strip())
if echo != "echo: %s\n" % msg:
    sys.exit("bad echo %r" % echo)
print("HOST-OK")
EOF

# 1. xvm
"$XVM" run --kernel "$ELF" --memory 64M --cmdline "tests=console,pci" \
    --vconsole "socket=$T/agent.sock,name=org.xvm.agent" </dev/null >"$T/out" 2>"$T/err" &
pid=$!
"$PY" "$T/host.py" "$T/agent.sock" >"$T/host" 2>&1
hrc=$?
timeout 60 tail --pid=$pid -f /dev/null; wait $pid; rc=$?; pid=
[ $hrc = 0 ] && grep -q HOST-OK "$T/host" || fail "host side of the port failed"
[ $rc = 0 ] || fail "xvm run exited $rc, want 0"
grep -q '^XTEST console PASS .*name=org.xvm.agent' "$T/out" || fail "console test did not pass"
grep -q 'bad_ctrl=needs_reset' "$T/out" || fail "short control message did not need a reset"
grep -q 'virtio-console .*: control message shorter than its header; device needs reset$' "$T/err" ||
    fail "no warning line for the short control message"
grep -Eq '^XTEST pci PASS .*=1af4:1043/0780' "$T/out" || fail "pci does not list 1af4:1043 class 0780"
[ -e "$T/agent.sock" ] && fail "the socket is left behind after the run"
echo "ok: hello, host line echoed by the guest, bad control message -> needs reset, socket removed"

# 2. no --vconsole: no device
timeout 120 "$XVM" run --kernel "$ELF" --memory 64M --cmdline "tests=console" </dev/null \
    >"$T/out" 2>"$T/err" || fail "run without --vconsole failed"
grep -q '^XTEST console SKIP reason=no-virtio-console' "$T/out" || fail "console did not skip"
echo "ok: without --vconsole the device is absent"

# 3. bad input: one line, status 1, nothing created
touch "$T/plain"
for spec in "name=x" "socket=$T/a,name=bad/name" "socket=$T/a,bogus=1" "socket=$T/plain" \
            "socket=$T/nodir/a.sock"; do
    timeout 60 "$XVM" run --kernel "$ELF" --memory 64M --vconsole "$spec" </dev/null \
        >"$T/out" 2>"$T/err"
    rc=$?
    [ $rc = 1 ] || fail "--vconsole '$spec': status $rc, want 1"
    [ "$(grep -vc "PVM host" "$T/err")" = 1 ] || fail "--vconsole '$spec': want one error line"
    grep -q '^xvm: .*vconsole' "$T/err" || fail "--vconsole '$spec': error does not name the option"
done
[ -f "$T/plain" ] && [ ! -e "$T/a" ] || fail "bad --vconsole left something behind"
echo "ok: bad --vconsole values: one line, status 1, nothing created"

# 4. the same guest driver and host side against QEMU's virtio-serial (a check
#    that xvm's device and the test driver follow the spec, not only each other)
Q=$(command -v qemu-system-x86_64) || { echo "ok (QEMU part skipped: no qemu-system-x86_64)"; exit 0; }
"$Q" -M q35 -bios qboot.rom -device virtio-serial-pci-non-transitional,max_ports=2 \
    -chardev "socket,id=c0,path=$T/q.sock,server=on,wait=off" \
    -device virtserialport,chardev=c0,name=org.xvm.agent,nr=1 \
    -accel kvm -cpu host,-xsave,-arch-capabilities -smp 1 -m 128 -kernel "$ELF" \
    -append "tests=console" -nodefaults -no-user-config -nographic -serial stdio \
    -no-reboot </dev/null 2>&1 | tr -d '\r' >"$T/out" &
pid=$!
"$PY" "$T/host.py" "$T/q.sock" >"$T/host" 2>&1; hrc=$?
timeout 60 tail --pid=$pid -f /dev/null; wait $pid; pid=
[ $hrc = 0 ] || fail "QEMU: host side of the port failed"
grep -q '^XTEST console PASS .*name=org.xvm.agent' "$T/out" || fail "QEMU: console test did not pass"
echo "ok: QEMU virtio-serial: the same hello and echo ($(grep -o 'bad_ctrl=[a-z_]*' "$T/out") there)"
exit 0
