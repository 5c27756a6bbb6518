#!/bin/bash
# test_store_xsutils.sh - Debian's unmodified xenstore-utils against xvmstored, and `xvm store` beside them.
# usage: test_store_xsutils.sh XVMSTORED XVM
set -uo pipefail
DAEMON=$1 XVM=$2
for t in xenstore-read xenstore-write xenstore-ls xenstore-list xenstore-rm \
         xenstore-exists xenstore-chmod xenstore-watch; do
    command -v "$t" >/dev/null || { echo "skip: $t not installed (apt install xenstore-utils)"; exit 77; }
done
TMP=$(mktemp -d)
export XENSTORED_PATH=$TMP/sock
"$DAEMON" --socket "$TMP/sock" --db "$TMP/db" --foreground 2>"$TMP/log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 200); do [ -S "$TMP/sock" ] && break; sleep 0.02; done
fails=0
ok() { if [ "$1" = "$2" ]; then :; else echo "FAIL: $3: got [$1] want [$2]"; fails=$((fails + 1)); fi; }

xenstore-write /vm/a 1 /vm/b "two words" /vm/sub/c 3
ok $? 0 "xenstore-write"
ok "$(xenstore-read /vm/b)" "two words" "xenstore-read"
ok "$(xenstore-read /vm/a /vm/sub/c | tr '\n' ' ')" "1 3 " "xenstore-read of two paths"
xenstore-exists /vm/a; ok $? 0 "xenstore-exists (present)"
xenstore-exists /vm/nope; ok $? 1 "xenstore-exists (absent)"
ok "$(xenstore-list /vm | tr '\n' ' ')" "a b sub " "xenstore-list"
ok "$(xenstore-ls /vm)" "$("$XVM" store ls /vm)" "xenstore-ls and xvm store ls agree"
ok "$(xenstore-ls /vm | head -1)" 'a = "1"' "xenstore-ls format"
ok "$("$XVM" store read /vm/b)" "$(xenstore-read /vm/b)" "xvm store read = xenstore-read"
# escapes and long values: the same text as Xen's tools, byte for byte
xenstore-write /vm/esc "$(printf 'a\001b\\\\c\td\x7f\xc3\xa9"q')" /vm/long "$(printf 'x%.0s' $(seq 120))" \
    /vm/mid "$(printf 'z%.0s' $(seq 71))"
ok "$("$XVM" store read /vm/esc /vm/long)" "$(xenstore-read /vm/esc /vm/long)" "escaped read"
ok "$("$XVM" store ls -p /vm)" "$(xenstore-ls -p /vm)" "xvm store ls -p = xenstore-ls -p"
# escapes on the way in: xvm store write expands them as xenstore-write does
for v in 'a\tb\x41\101\\z' plain 'x\' '\x4g' '\777q' '\xq' '\8' '\1234' '\n\r\\'; do
    xenstore-write /esc/xs "$v" && "$XVM" store write /esc/xvm "$v"
    ok "$("$XVM" store read -R /esc/xvm | od -c)" "$("$XVM" store read -R /esc/xs | od -c)" \
       "write escapes: $v"
done
"$XVM" store write -R /esc/raw 'a\tb'
ok "$("$XVM" store read -R /esc/raw)" 'a\tb' "write -R stores the bytes as given"
xenstore-read /vm/nope 2>/dev/null; ok $? 1 "xenstore-read of a missing node fails"
"$XVM" store read /vm/nope 2>/dev/null; ok $? 1 "xvm store read of a missing node fails"

xenstore-chmod -r /vm r0 w3; ok $? 0 "xenstore-chmod -r"
ok "$("$XVM" store perms /vm/sub/c)" "r0 w3" "chmod -r reached the leaves"
"$XVM" store chmod /vm/a b0 r4; ok "$(xenstore-ls -p /vm | grep -c '(b0,r4)')" 1 "xvm store chmod seen by xenstore-ls -p"

xenstore-rm /vm/sub; ok $? 0 "xenstore-rm"
xenstore-exists /vm/sub/c; ok $? 1 "xenstore-rm removed the subtree"
"$XVM" store mkdir /vm/empty; ok "$(xenstore-read /vm/empty)" "" "xvm store mkdir"
xenstore-write /t1/a/b/c 1 /t1/keep v /t2/a/b/c 1 /t2/keep v
xenstore-rm -t /t1/a/b/c; "$XVM" store rm -t /t2/a/b/c
ok "$("$XVM" store ls /t2)" "$(xenstore-ls /t1)" "rm -t removes the parents left empty, like xenstore-rm -t"
"$XVM" store exists /t2/keep; ok $? 0 "xvm store exists (present)"
"$XVM" store exists /t2/a; ok $? 1 "xvm store exists (absent)"
ok "$("$XVM" store list /vm)" "$(xenstore-list /vm)" "xvm store list = xenstore-list"
"$XVM" store rm /vm/empty; xenstore-exists /vm/empty; ok $? 1 "xvm store rm"

# watches: the initial event, then one per change below the path
xenstore-watch -n 3 /w >"$TMP/watch.out" &
WPID=$!
for _ in $(seq 100); do [ -s "$TMP/watch.out" ] && break; sleep 0.02; done
xenstore-write /w/x 1 && xenstore-write /other 1 && xenstore-write /w/y/z 2
wait $WPID; ok $? 0 "xenstore-watch -n 3 exits"
ok "$(tr '\n' ' ' <"$TMP/watch.out")" "/w /w/x /w/y/z " "xenstore-watch events"
"$XVM" store watch -n 2 /w >"$TMP/xwatch.out" &
WPID=$!
for _ in $(seq 100); do [ -s "$TMP/xwatch.out" ] && break; sleep 0.02; done
xenstore-write /w/q 1
wait $WPID
ok "$(tr '\n' ' ' <"$TMP/xwatch.out")" "/w /w/q " "xvm store watch events"

# a directory bigger than one 4096-byte reply: libxenstore's DIRECTORY_PART path
for i in $(seq 300); do echo "/big/node-with-a-long-name-$i"; echo "$i"; done | xargs xenstore-write
ok "$(xenstore-list /big | wc -l)" 300 "xenstore-list of 300 children (DIRECTORY_PART)"
ok "$(xenstore-ls /big | wc -l)" 300 "xenstore-ls of 300 children"

# snoop: a live record of every operation, filtered by path prefix and domain
"$XVM" store snoop -p /sn -d 0 >"$TMP/snoop.out" &
SPID=$!
for _ in $(seq 100); do [ -s "$TMP/snoop.out" ] && break; sleep 0.02; done
xenstore-write /sn/x hello /other/y 1
xenstore-read /sn/missing 2>/dev/null
for _ in $(seq 100); do [ "$(wc -l <"$TMP/snoop.out")" -ge 3 ] && break; sleep 0.02; done
kill $SPID; wait $SPID 2>/dev/null
ok "$(awk 'NR > 1 {print $5, $6, $7, $8}' "$TMP/snoop.out" | tr '\n' ';')" \
   "WRITE /sn/x 5 OK;READ /sn/missing 0 ENOENT;" "xvm store snoop records (prefix filter)"
ok "$(head -1 "$TMP/snoop.out" | awk '{print $1, $5, $8}')" "TIME OP RESULT" "snoop header"

# an unprivileged domain through its own socket, with the same tools
"$XVM" store introduce 5; ok $? 0 "xvm store introduce"
"$XVM" store mkdir /local/domain/5 && "$XVM" store chmod /local/domain/5 n5
xenstore-write /secret s
XENSTORED_PATH=$TMP/sock.5 xenstore-write name guest5; ok $? 0 "domain 5 writes a relative path"
ok "$(xenstore-read /local/domain/5/name)" guest5 "relative to /local/domain/5"
ok "$("$XVM" store perms /local/domain/5/name)" n5 "domain 5 owns what it created"
XENSTORED_PATH=$TMP/sock.5 xenstore-read /secret 2>/dev/null; ok $? 1 "domain 5 cannot read /secret"
XENSTORED_PATH=$TMP/sock.5 xenstore-write /local/domain/0/x 1 2>/dev/null; ok $? 1 "nor write elsewhere"
"$XVM" store release 5; ok $? 0 "xvm store release"
[ -e "$TMP/sock.5" ]; ok $? 1 "release removed the domain socket"

kill -0 $PID 2>/dev/null; ok $? 0 "daemon still running"
echo "xenstore-utils: $fails failures"
[ "$fails" = 0 ]
