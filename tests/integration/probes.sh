#!/bin/bash
# probes.sh - the xpv USDT provider: bpftrace lists every control-path probe
# in the xvm binary, and a probe attached during a real run fires with the
# right arguments. Skips (77) with a reason when bpftrace or tracefs is missing.
# usage: probes.sh XVM TESTGUEST
set -u
XVM=$(readlink -f "$1"); GUEST=$2
command -v bpftrace >/dev/null || { echo "SKIP: bpftrace not installed"; exit 77; }
want="dom__create__start dom__create__end set__memory__map__start set__memory__map__end
 populate__physmap__start populate__physmap__end vcpu__create setvcpucontext__start
 setvcpucontext__end dom__unpause__start dom__unpause__end dom__destroy__start
 dom__destroy__end exit control__start control__end"
list=$(bpftrace -l "usdt:$XVM:xpv:*" 2>/dev/null)
fail=0
for p in $want; do
    grep -q ":xpv:$p\$" <<<"$list" || { echo "FAIL: probe xpv:$p not listed by bpftrace -l"; fail=1; }
done
[ $fail = 0 ] && echo "ok: bpftrace -l lists all $(wc -w <<<"$want") control-path probes"
# semaphores: every probe has one, so disabled probes cost a branch only
if readelf -n "$XVM" | grep -A3 'stapsdt' | grep -q 'Semaphore: 0x0*$'; then
    echo "FAIL: a probe has no semaphore"; fail=1
fi

[ -c /dev/kvm ] || { echo "SKIP: no /dev/kvm for the attach part"; exit 77; }
if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
    if [ "$(id -u)" = 0 ]; then mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; fi
    [ -d /sys/kernel/tracing/events ] || { echo "SKIP: tracefs not mounted (mount -t tracefs nodev /sys/kernel/tracing)"; exit 77; }
fi
out=$(timeout 120 bpftrace -e "
usdt:$XVM:xpv:dom__create__start { printf(\"CREATE %d %s\n\", arg0, str(arg1)); }
usdt:$XVM:xpv:vcpu__create { printf(\"VCPU %d\n\", arg1); }
usdt:$XVM:xpv:exit /arg2 == 2/ { @io = @io + 1; }
END { printf(\"IO %d\n\", @io); clear(@io); }" \
    -c "$XVM run --kernel $GUEST --vcpus 2 --name probe-test --console null --cmdline tests=cpuid,pio" 2>&1)
rc=$?
if [ $rc != 0 ] && grep -qi "permission\|not permitted\|ENOSYS\|could not attach" <<<"$out"; then
    echo "SKIP: bpftrace cannot attach here: $(tail -n 1 <<<"$out")"; exit 77
fi
grep -q "^CREATE 0 probe-test$" <<<"$out" || { echo "FAIL: dom-create-start did not fire with (0, probe-test)"; fail=1; }
[ "$(grep -c '^VCPU ' <<<"$out")" = 2 ] || { echo "FAIL: vcpu-create did not fire twice"; fail=1; }
io=$(sed -n 's/^IO \([0-9]*\)$/\1/p' <<<"$out")
[ "${io:-0}" -gt 100 ] || { echo "FAIL: exit probe saw ${io:-0} PIO exits (want > 100)"; fail=1; }
[ $fail = 0 ] && echo "ok: probes fired: dom-create-start, 2x vcpu-create, $io PIO exits"

# device probes: virtio-blk requests with their latency, queue kicks
if command -v qemu-img >/dev/null; then
    D=$(mktemp -d); qemu-img create -q -f raw "$D/d.raw" 16M
    out2=$(timeout 120 bpftrace -e "
usdt:$XVM:xpv:blk__req__done /str(arg0) == \"pd\"/ { @n = @n + 1; @lat = @lat + arg5; }
usdt:$XVM:xpv:virtio__notify { @kicks = @kicks + 1; }
END { printf(\"BLK %d %d %d\n\", @n, @lat, @kicks); clear(@n); clear(@lat); clear(@kicks); }" \
        -c "$XVM run --kernel $GUEST --console null --disk $D/d.raw,id=pd --cmdline tests=blk" 2>&1)
    rm -rf "$D"
    read -r n lat kicks < <(sed -n 's/^BLK \([0-9]*\) \([0-9]*\) \([0-9]*\)$/\1 \2 \3/p' <<<"$out2")
    if [ "${n:-0}" -ge 5 ] && [ "${lat:-0}" -gt 0 ] && [ "${kicks:-0}" -ge 1 ]; then
        echo "ok: blk-req-done fired $n times (mean latency $((lat / n / 1000)) us), $kicks queue kicks"
    else
        echo "FAIL: device probes: blk-req-done n=${n:-0} latency=${lat:-0} kicks=${kicks:-0}"; echo "$out2"; fail=1
    fi
fi
# control probes: a status request on --control fires start and end
# (bpftrace attached to the binary, xvm started once it is attached)
if command -v python3 >/dev/null; then
    C=$(mktemp -d)
    timeout 60 bpftrace -e "
usdt:$XVM:xpv:control__start { printf(\"CTL-START %d %s\n\", arg0, str(arg1)); }
usdt:$XVM:xpv:control__end { printf(\"CTL-END %d %s %d\n\", arg0, str(arg1), arg2); }" \
        >"$C/out" 2>&1 &
    bp=$!
    for _ in $(seq 100); do grep -q '^Attaching' "$C/out" && break; sleep 0.1; done
    sleep 0.5
    "$XVM" run --kernel "$GUEST" --memory 64M --domid 9 --console null --control "$C/c.sock" \
        --cmdline "tests=serve" </dev/null 2>/dev/null &
    vp=$!
    for _ in $(seq 100); do [ -S "$C/c.sock" ] && break; sleep 0.1; done
    python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b"{\"cmd\":\"status\"}\n{\"cmd\":\"quit\"}\n"); f=s.makefile(); f.readline(); f.readline()' "$C/c.sock" ||
        { echo "FAIL: no control socket"; fail=1; kill $vp; }
    wait $vp
    sleep 0.5; kill -INT $bp; wait $bp
    if grep -q '^CTL-START 9 status$' "$C/out" && grep -q '^CTL-END 9 status 0$' "$C/out" &&
       grep -q '^CTL-END 9 quit 0$' "$C/out"; then
        echo "ok: control-start/-end fired for status and quit (domid 9, rc 0)"
    else
        echo "FAIL: control probes did not fire"; cat "$C/out"; fail=1
    fi
    rm -rf "$C"
fi
[ $fail = 0 ] || { echo "bpftrace output:"; echo "$out"; }
exit $fail
