#!/bin/bash
# test_store_probes.sh - xvmstored's xpv probes fire with the right arguments (bpftrace attached to a live daemon).
# usage: test_store_probes.sh XVMSTORED XVM. Skips (77) when bpftrace or tracefs is missing.
set -u
DAEMON=$(readlink -f "$1") XVM=$2
command -v bpftrace >/dev/null || { echo "SKIP: bpftrace not installed"; exit 77; }
list=$(bpftrace -l "usdt:$DAEMON:xpv:*" 2>/dev/null)
fail=0
for p in store__op__start store__op__done store__tx__commit store__tx__abort store__watch__fire; do
    grep -q ":xpv:$p\$" <<<"$list" || { echo "FAIL: xpv:$p not listed by bpftrace -l"; fail=1; }
done
if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
    [ "$(id -u)" = 0 ] && mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null
    [ -d /sys/kernel/tracing/events ] || { echo "SKIP: tracefs not mounted"; exit 77; }
fi
TMP=$(mktemp -d)
"$DAEMON" --socket "$TMP/sock" --db "$TMP/db" --foreground 2>"$TMP/log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
timeout 60 bpftrace -p $PID -e "
usdt:$DAEMON:xpv:store__op__start { printf(\"START %d %s %s %u\n\", arg1, str(arg2), str(arg3), arg4); }
usdt:$DAEMON:xpv:store__op__done { printf(\"DONE %s %s %d %s\n\", str(arg1), str(arg2), arg4, arg5 > 0 ? \"lat\" : \"nolat\"); }
usdt:$DAEMON:xpv:store__tx__commit { printf(\"COMMIT %u\n\", arg1); }
usdt:$DAEMON:xpv:store__tx__abort { printf(\"ABORT %u %d\n\", arg1, arg2); }
usdt:$DAEMON:xpv:store__watch__fire { printf(\"FIRE %s %s\n\", str(arg1), str(arg2)); }
" >"$TMP/bt" 2>&1 &
BT=$!
for _ in $(seq 300); do grep -q "^Attaching" "$TMP/bt" 2>/dev/null && break; sleep 0.1; done
sleep 1
export XVM_STORE_SOCKET=$TMP/sock
"$XVM" store watch -n 2 /pr >/dev/null &
W=$!
sleep 0.3
"$XVM" store write /pr/x 12345
"$XVM" store read /pr/none 2>/dev/null
python3 - "$TMP/sock" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
def call(t, p, tx=0):
    s.sendall(struct.pack("<IIII", t, 1, tx, len(p)) + p)
    h = s.recv(16); n = struct.unpack("<IIII", h)[3]; return s.recv(n) if n else b""
tx = int(call(6, b"\0").rstrip(b"\0"))       # TRANSACTION_START
call(11, b"/pr/t\0v", tx)                      # WRITE in the transaction
call(7, b"T\0", tx)                            # TRANSACTION_END commit
tx = int(call(6, b"\0").rstrip(b"\0"))
call(7, b"F\0", tx)                            # abort
PY
wait $W
sleep 1
kill -INT $BT; wait $BT
out=$(cat "$TMP/bt")
if ! grep -q "^Attaching" <<<"$out"; then
    echo "SKIP: bpftrace cannot attach here: $(tail -n 1 <<<"$out")"; exit 77
fi
chk() { grep -q "$1" <<<"$out" || { echo "FAIL: $2"; fail=1; }; }
chk "^START 0 WRITE /pr/x 0$" "op-start for WRITE with domid 0, path and tx 0"
chk "^DONE WRITE /pr/x 0 lat$" "op-done for WRITE with rc 0 and a latency"
chk "^DONE READ /pr/none -2 lat$" "op-done for a missing READ with rc -ENOENT"
chk "^COMMIT [1-9]" "tx-commit"
chk "^ABORT [1-9][0-9]* 0$" "tx-abort for TRANSACTION_END F"
chk "^FIRE /pr/x /pr$" "watch-fire with path and token"
[ $fail = 0 ] && echo "ok: store probes fire with their arguments"
exit $fail
