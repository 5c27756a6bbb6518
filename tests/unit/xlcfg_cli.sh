#!/bin/sh
# xlcfg_cli.sh - `xvm config-check`: JSON on stdout, warnings and one error line on stderr, exit codes.
# usage: xlcfg_cli.sh XVM_BINARY TESTS_UNIT_XLCFG_DIR
set -u
XVM=$1
DIR=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0

ok() { n=$((n + 1)); }
bad() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
run() { "$XVM" config-check "$@" >"$T/out" 2>"$T/err"; rc=$?; }

# a good file with overrides: exit 0, JSON on stdout, the warning on stderr
run "$DIR/good/lvm-phy.cfg" memory=1024 'disk+=["/c.raw,,xvdd"]'
[ $rc -eq 0 ] && ok || bad "good config: exit $rc"
grep -q '"memory_mib": 1024,' "$T/out" && grep -q '"maxmem_mib": 4096,' "$T/out" &&
	grep -q '"target": "/c.raw",' "$T/out" && ok || bad "overrides not in the JSON"
[ "$(cat "$T/err")" = "xvm: warning: $DIR/good/lvm-phy.cfg:9: ignoring root= and extra= in favour of cmdline=" ] &&
	ok || bad "warning line: $(cat "$T/err")"

# a bad file: exit 1, nothing on stdout, exactly one line on stderr
run "$DIR/bad/memory-word.cfg"
[ $rc -eq 1 ] && ok || bad "bad config: exit $rc"
[ ! -s "$T/out" ] && ok || bad "bad config wrote to stdout"
[ "$(wc -l <"$T/err")" -eq 1 ] &&
	[ "$(cat "$T/err")" = "xvm: $DIR/bad/memory-word.cfg:3:10: memory: expected a number, got \"lots\"" ] &&
	ok || bad "error line: $(cat "$T/err")"

# a bad override of a good file
run "$DIR/good/pvh-minimal.cfg" 'on_crash=restart'
[ $rc -eq 1 ] && [ "$(cat "$T/err")" = "xvm: override 1:1:10: on_crash: expected a value, got 'restart' (strings must be quoted)" ] &&
	ok || bad "bad override: exit $rc: $(cat "$T/err")"

# a missing file, usage errors, help
run /nonexistent/web.cfg
[ $rc -eq 1 ] && [ "$(cat "$T/err")" = "xvm: /nonexistent/web.cfg: No such file or directory" ] &&
	ok || bad "missing file: exit $rc: $(cat "$T/err")"
run "$DIR/good/pvh-minimal.cfg" memory
[ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && ok || bad "override without '=': exit $rc"
run
[ $rc -eq 2 ] && ok || bad "no arguments: exit $rc"
run --help
[ $rc -eq 0 ] && grep -q '^usage: xvm config-check' "$T/out" && ok || bad "--help: exit $rc"

echo "xlcfg_cli: $n checks, $fails failed"
[ $fails -eq 0 ]
