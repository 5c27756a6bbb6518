#!/bin/bash
# lifecycle.sh - xvmd lifecycle benchmark: create->running latency (API reply
# and first guest console line), destroy latency, create rate (N creates back
# to back) and M small domains (32M, test guest serve mode) running at once.
# usage: bench/lifecycle.sh [BUILD_DIR] [N] [M]   (defaults: build 20 50)
set -euo pipefail
B=${1:-build} N=${2:-20} M=${3:-50}
XVMD=$B/xvmd ELF=$B/tests/guest/xvm-testguest.elf
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm not usable"; exit 77; }
[ -x "$XVMD" ] && [ -f "$ELF" ] || { echo "build first: ninja -C $B"; exit 1; }
T=$(mktemp -d)
RUN=$T/run
mkdir -p "$RUN"
"$XVMD" --rundir "$RUN" --socket "$RUN/xvmd.sock" --store-socket "$T/store.sock" \
    >"$T/xvmd.stderr" 2>&1 &
dpid=$!
cleanup() {
    kill "$dpid" 2>/dev/null; wait "$dpid" 2>/dev/null || true
    [ -f "$RUN/xvmstored.pid" ] && kill "$(cat "$RUN/xvmstored.pid")" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
python3 - "$RUN" "$ELF" "$N" "$M" <<'PY'
import json, os, socket, sys, time
run, elf, n, m = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sockp = os.path.join(run, "xvmd.sock")
for _ in range(200):
    if os.path.exists(sockp):
        break
    time.sleep(0.05)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sockp)
f = s.makefile("rwb")

def op(name, **kw):
    f.write((json.dumps(dict(api=1, op=name, **kw)) + "\n").encode())
    f.flush()
    r = json.loads(f.readline())
    if not r.get("ok"):
        sys.exit("xvmd: %s: %s" % (name, r.get("error")))
    return r

def cfg(name):
    return ('name = "%s"\nkernel = "%s"\nmemory = 32\nextra = "tests=serve"\n'
            'on_poweroff = "destroy"\n' % (name, elf))

def ms(t):
    return "%.1f ms" % (t * 1000)

# latency: reply, first console line, destroy (median of 5)
rep, first, dest = [], [], []
for i in range(5):
    t0 = time.perf_counter()
    r = op("create", config=cfg("lat%d" % i), source="bench")
    t1 = time.perf_counter()
    log = os.path.join(run, "dom", str(r["domid"]), "console.log")
    while not (os.path.exists(log) and b"\n" in open(log, "rb").read()):
        time.sleep(0.0005)
    t2 = time.perf_counter()
    op("destroy", domain="lat%d" % i)
    t3 = time.perf_counter()
    rep.append(t1 - t0); first.append(t2 - t0); dest.append(t3 - t2)
med = lambda v: sorted(v)[len(v) // 2]
print("create -> reply:              %s (median of 5)" % ms(med(rep)))
print("create -> first console line: %s" % ms(med(first)))
print("destroy:                      %s" % ms(med(dest)))

# create rate
t0 = time.perf_counter()
for i in range(n):
    op("create", config=cfg("rate%d" % i), source="bench")
dt = time.perf_counter() - t0
print("create rate:                  %.1f domains/s (%d back to back in %s)" % (n / dt, n, ms(dt)))
for i in range(n):
    op("destroy", domain="rate%d" % i)

# create rate of paused domains (the serve guest spins on its vCPU, so
# running ones compete with the next VMM's start for the 2 cores)
t0 = time.perf_counter()
for i in range(n):
    op("create", config=cfg("prate%d" % i), source="bench", paused=True)
dt = time.perf_counter() - t0
print("create rate (paused):         %.1f domains/s (%d back to back in %s)" % (n / dt, n, ms(dt)))
for i in range(n):
    op("destroy", domain="prate%d" % i)

# M domains at once
t0 = time.perf_counter()
for i in range(m):
    op("create", config=cfg("many%d" % i), source="bench")
dt = time.perf_counter() - t0
doms = op("list")["domains"]
running = sum(1 for d in doms if d["state"] == "r-----")
rss = 0
for d in doms:
    try:
        with open("/proc/%d/status" % d["pid"]) as st:
            rss += next(int(l.split()[1]) for l in st if l.startswith("VmRSS"))
    except (OSError, StopIteration):
        pass
t1 = time.perf_counter()
op("list")
tl = time.perf_counter() - t1
print("%d domains at once:           %d running, created in %s, VMM RSS total %d MiB, list %s"
      % (m, running, ms(dt), rss // 1024, ms(tl)))
t0 = time.perf_counter()
for i in range(m):
    op("destroy", domain="many%d" % i)
print("destroy %d:                   %s" % (m, ms(time.perf_counter() - t0)))
PY
