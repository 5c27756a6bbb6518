#!/bin/bash
# net_helper.sh - `xvm run --net bridge=BR` as an unprivileged user (nobody, no
# groups, no capabilities) through xvm-net-helper, inside a private network
# namespace: the helper (a setuid-root copy in a temporary directory) checks the
# bridge ACL, makes the tap, puts it in the bridge and passes the fd; the test
# guest's frames are echoed through the bridge; no tap is left afterwards; and an
# ACL refusal, an unknown bridge, not a bridge, a helper without privilege and no
# helper at all each fail in one line with no stray tap. /dev/kvm is reached
# through a private device node owned by nobody, the ACL through an overlay on
# /etc in a private mount namespace: nothing on the host changes.
# usage: net_helper.sh XVM HELPER TESTGUEST   (exit 0 pass, 77 skip, 1 fail)
set -uo pipefail
XVM=$(readlink -f "$1") HELPER=$(readlink -f "$2") ELF=$(readlink -f "$3")
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (namespaces, a setuid helper copy)"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm"; exit 77; }
for c in ip python3 setpriv unshare; do
    command -v $c >/dev/null || { echo "SKIP: needs $c"; exit 77; }
done
id nobody >/dev/null 2>&1 || { echo "SKIP: no user nobody"; exit 77; }
NS=xvmhlp$$ T=$(mktemp -d)
cleanup() { ip netns del "$NS" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
chmod 755 "$T"
ip netns add "$NS" || { echo "SKIP: cannot create a network namespace"; exit 77; }
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
fail() { echo "FAIL: $*"; for f in out err py; do [ -f "$T/$f" ] && sed "s/^/  $f| /" "$T/$f"; done; exit 1; }
HOSTPY=$(dirname "$(readlink -f "$0")")/lib/net_host.py

# the setuid helper, an unprivileged copy, and a /dev/kvm node nobody may open
cp "$HELPER" "$T/xvm-net-helper" && chown root:root "$T/xvm-net-helper" &&
    chmod 4755 "$T/xvm-net-helper" || fail "cannot install the setuid helper copy"
cp "$HELPER" "$T/plain-helper" && chmod 755 "$T/plain-helper"
mknod "$T/kvm" c "0x$(stat -c %t /dev/kvm)" "0x$(stat -c %T /dev/kvm)" &&
    chown nobody "$T/kvm" && chmod 600 "$T/kvm" || { echo "SKIP: cannot make a kvm node in $T"; exit 77; }
setpriv --reuid=nobody --regid=nogroup --clear-groups sh -c "exec 3<>$T/kvm" 2>/dev/null ||
    { echo "SKIP: nobody cannot open the kvm node (nodev mount?)"; exit 77; }

# as_user ACL HELPER ARGS...: xvm run as nobody in the namespace, /etc/xvm/bridge.conf = ACL
cat >"$T/as_user.sh" <<'SH'
#!/bin/sh
# inside `ip netns exec` + `unshare -m`: a private /etc with the test's ACL, then drop to nobody
T=$1 ACL=$2 HELPER=$3; shift 3
mkdir -p "$T/etc-up" "$T/etc-work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/etc-up,workdir=$T/etc-work" /etc || exit 90
mkdir -p /etc/xvm && printf '%b' "$ACL" >/etc/xvm/bridge.conf
exec setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
    env XVM_KVM_DEVICE="$T/kvm" XVM_NET_HELPER="$HELPER" "$@"
SH
chmod 755 "$T/as_user.sh"
as_user() {
    local acl=$1 helper=$2; shift 2
    rm -rf "$T/etc-up" "$T/etc-work"
    in_ns unshare -m "$T/as_user.sh" "$T" "$acl" "$helper" \
        timeout 120 "$XVM" run --kernel "$ELF" --memory 64M "$@" </dev/null >"$T/out" 2>"$T/err"
}
no_taps() {   # a closed tap's netdev is unregistered asynchronously
    for _ in $(seq 50); do in_ns ip -o link show | grep -q ': xvm[0-9]' || return 0; sleep 0.1; done
    fail "$1: a stray tap is left: $(in_ns ip -o link show | grep -o 'xvm[0-9]*' | head -1)"
}

in_ns ip link add xhbr0 address 02:00:00:00:0c:01 type bridge && in_ns ip link set xhbr0 up &&
    in_ns ip link add xhbr1 type bridge || fail "cannot make the bridges"

# 0. the premise: nobody cannot make a tap itself
as_user 'allow xhbr0\n' /nonexistent --net bridge=xhbr0 --cmdline tests=net
[ $? = 1 ] && grep -q "no permission to create a tap (needs CAP_NET_ADMIN) and no helper at /nonexistent" "$T/err" ||
    fail "no helper: want the one-line 'no permission ... and no helper' error"
no_taps "no helper"
echo "ok: unprivileged xvm without a helper: one line, no tap"

# 1. through the helper: frames both ways through the bridge, no tap afterwards
in_ns python3 "$HOSTPY" xhbr0 2 echo >"$T/py" 2>&1 &
HOSTPID=$!
for _ in $(seq 100); do grep -q READY "$T/py" && break; sleep 0.05; done
as_user '# test ACL\nallow xhbr0\n' "$T/xvm-net-helper" -v --net bridge=xhbr0 \
    --cmdline "tests=net net.echo=2 net.wait_ms=20000"
rc=$?
wait $HOSTPID
[ $rc = 0 ] || fail "xvm run as nobody through the helper: status $rc"
grep -q '^XTEST net PASS .*tx=ok echoed=2' "$T/out" || fail "net test did not pass through the helper's tap"
grep -q 'HOST hello=.* echoed=2' "$T/py" || fail "host did not get 2 echoes through the bridge"
btap=$(sed -n 's/.*nic net0: tap \(xvm[0-9]*\) (created).*/\1/p' "$T/err")
[ -n "$btap" ] || fail "no 'tap xvmN (created)' line"
grep -q "tap $btap from $T/xvm-net-helper in bridge xhbr0" "$T/err" || fail "no line saying the helper made the tap"
no_taps "after the run"
echo "ok: as nobody: helper made $btap in xhbr0, 2 frames echoed, tap gone after exit"

# 2. errors: one line, status 1, no tap
bad() {   # bad ACL HELPER WANT_REGEX BRIDGE
    as_user "$1" "$2" --console null --net "bridge=$4"
    local rc=$?
    [ $rc = 1 ] || fail "bridge=$4 ($3): status $rc, want 1"
    [ "$(grep -vc 'PVM host\|^xvm-net-helper: ' "$T/err")" = 1 ] || fail "bridge=$4: want one error line"
    grep -Eq "$3" "$T/err" || fail "bridge=$4: error does not match '$3'"
    no_taps "bridge=$4"
}
bad 'allow xhbr0\n' "$T/xvm-net-helper" '^xvm: --net bridge=xhbr1: not allowed by /etc/xvm/bridge.conf' xhbr1
bad 'allow all\ndeny xhbr0\n' "$T/xvm-net-helper" '^xvm: --net bridge=xhbr0: not allowed by' xhbr0
bad '' "$T/xvm-net-helper" '^xvm: --net bridge=xhbr0: not allowed by' xhbr0
bad 'allow all\n' "$T/xvm-net-helper" '^xvm: --net bridge=nosuchbr: no such bridge$' nosuchbr
bad 'allow all\n' "$T/xvm-net-helper" '^xvm: --net bridge=lo: not a bridge$' lo
bad 'allow all\n' "$T/plain-helper" '^xvm: --net bridge=xhbr0: .*plain-helper: cannot create a tap: no privilege' xhbr0
echo "ok: ACL refusal, deny rule, empty ACL, unknown bridge, not a bridge, helper without privilege: one line, no tap"

# 3. the helper alone: bad arguments are refused before anything happens
"$T/xvm-net-helper" --fd=0 --br=xhbr0 </dev/null 2>"$T/err"; [ $? = 2 ] || fail "helper accepted a non-socket fd"
"$T/xvm-net-helper" --bogus 2>"$T/err"; [ $? = 2 ] || fail "helper accepted an unknown argument"
"$T/xvm-net-helper" --help | grep -q '^usage: xvm-net-helper' || fail "helper --help"
echo "ok: the helper refuses a non-socket fd and unknown arguments"
exit 0
