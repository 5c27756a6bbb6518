#!/usr/bin/env python3
"""The xl verbs of the xvm CLI without a real xvmd: --help, bad arguments,
"xvmd not running", and every verb against a fake xvmd that records the
requests and answers canned replies (checks requests and output formats).
usage: test_cli.py BUILD/xvm"""
import fcntl
import json
import os
import select
import socket
import struct
import subprocess
import termios
import time
import sys
import tempfile
import threading

XVM = sys.argv[1]
VERBS = ["create", "list", "info", "destroy", "shutdown", "reboot", "pause",
         "unpause", "rename", "console", "dmesg", "uptime", "vcpu-list",
         "block-attach", "block-detach", "block-list", "network-attach",
         "network-detach", "network-list", "top"]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def run(args, env=None, stdin=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([XVM] + args, capture_output=True, text=True, env=e,
                       stdin=stdin if stdin is not None else subprocess.DEVNULL, timeout=30)
    return p.returncode, p.stdout, p.stderr


class FakeXvmd:
    """Answers each request line with handler(request) (a dict)."""

    def __init__(self, path, handler):
        self.requests, self.handler = [], handler
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.client, args=(conn,), daemon=True).start()

    def client(self, conn):
        f = conn.makefile("rwb")
        for line in f:
            req = json.loads(line)
            self.requests.append(req)
            f.write((json.dumps(self.handler(req)) + "\n").encode())
            f.flush()
        conn.close()


def offline_checks(tmp):
    for v in VERBS:
        rc, out, err = run([v, "--help"])
        check(rc == 0 and out.startswith("usage: xvm " + v), v + " --help")
    check(run(["help", "shutdown"])[0] == 0, "xvm help shutdown")
    bad = [["create"], ["create", "-z", "x.cfg"], ["list", "a", "b"], ["destroy"],
           ["destroy", "a", "b"], ["shutdown", "-t", "0", "d"], ["rename", "a"],
           ["console"], ["dmesg"], ["block-attach", "d"], ["block-detach", "d"],
           ["block-list"], ["network-attach", "d"], ["network-detach", "d", "1:2"],
           ["network-detach", "d", "x"], ["network-list"], ["top", "-d", "0"],
           ["top", "-i", "0"], ["top", "extra"], ["pause", ""], ["uptime", "-q"],
           ["create", os.path.join(tmp, "missing.cfg")],
           ["create", "/etc/hostname", "novalue"]]
    for args in bad:
        rc, out, err = run(args, env={"XVMD_SOCKET": os.path.join(tmp, "none.sock")})
        check(rc == 1 and err.count("\n") == 1 and err.startswith("xvm: "),
              "bad args %s -> exit 1, one line (got %d %r)" % (args, rc, err))
    env = {"XVMD_SOCKET": os.path.join(tmp, "none.sock")}
    for args in [["list"], ["info"], ["destroy", "d"], ["top", "-b", "-i", "1"],
                 ["block-list", "d"], ["uptime"], ["vcpu-list"], ["console", "d"]]:
        rc, out, err = run(args, env=env)
        check(rc == 2 and err.count("\n") == 1 and "cannot reach xvmd at " in err
              and "(start it with 'xvmd')" in err and out == "",
              "%s without xvmd (got %d %r %r)" % (args, rc, out, err))
    # the rundir rules pick the socket when XVMD_SOCKET is unset
    rc, out, err = run(["list"], env={"XVMD_SOCKET": "", "XVM_RUNDIR": tmp + "/rd"})
    check(rc == 2 and (tmp + "/rd/xvmd.sock") in err, "XVM_RUNDIR/xvmd.sock: %r" % err)


DOMS = [{"domid": 3, "name": "web", "uuid": "u1", "state": "-b----", "vcpus": 2,
         "memory_kib": 524288, "maxmem_kib": 524288, "cpu_ns": 12345678901,
         "uptime_ms": 90061000, "pid": 1}]
stats_calls = [0]
PTY = []


def stats_reply():
    n = stats_calls[0]
    stats_calls[0] += 1
    return {"ok": True, "domains": [{
        "domid": 3, "name": "web", "state": "r-----", "maxmem_kib": 524288, "vcpus": 2,
        "stats": {"cpu_ns": 10**9 * (5 + n), "memory_bytes": 1 << 29,
                  "memory_touched_bytes": (64 << 20) * (n + 1),
                  "disks": [{"id": "xvda", "rd_reqs": 10 * n, "wr_reqs": 3, "rd_sectors": 80 * n,
                             "wr_sectors": 24, "oo_reqs": 0}],
                  "nics": [{"id": "0", "tx_bytes": 4096 * n, "rx_bytes": 2048}],
                  "exits": {"io": 1000 + 500 * n, "hlt": 7}}}]}


def handler(req):
    op = req.get("op")
    if req.get("api") != 1:
        return {"ok": False, "error": "no api"}
    if op in ("destroy", "pause", "unpause", "shutdown", "reboot", "rename") and \
            req.get("domain") == "nosuch":
        return {"ok": False, "error": "domain 'nosuch' does not exist"}
    if op == "create":
        return {"ok": True, "domid": 3, "name": "web", "uuid": "u1",
                "warnings": ["line 4: unknown key 'foo'"]}
    if op == "list":
        return {"ok": True, "domains": [dict(DOMS[0], config={"name": "web"})]
                if req.get("long") else DOMS}
    if op == "info":
        return {"ok": True, "host": "h", "release": "6.1", "machine": "x86_64", "nr_cpus": 2,
                "total_memory_mib": 4096, "free_memory_mib": 1024, "kvm": "pvm",
                "xvm_version": "0.1.0", "nr_domains": 1}
    if op == "uptime":
        return {"ok": True, "domains": [{"domid": 3, "name": "web", "uptime_ms": 90061000}]}
    if op == "vcpu-list":
        return {"ok": True, "vcpus": [{"domid": 3, "name": "web", "vcpu": 0, "tid": os.getpid(),
                                       "cpu_ns": 1500000000, "state": "running",
                                       "affinity": "all"}]}
    if op == "block-list":
        return {"ok": True, "disks": [{"vdev": "xvda", "devid": 51712, "params": "/img/a.qcow2",
                                       "type": "qcow2", "mode": "w", "state": 4}]}
    if op == "network-list":
        return {"ok": True, "nics": [{"devid": 0, "mac": "00:16:3e:00:00:01",
                                      "bridge": "xvmbr0", "vifname": "vif3.0", "state": 4}]}
    if op == "dmesg":
        return {"ok": True, "log": "tick 1\ntick 2\n"}
    if op == "stats":
        return stats_reply()
    if op == "console":
        return {"ok": True, "pty": PTY[0] if PTY else "/nonexistent/pty"}
    return {"ok": True}


def console_check(env, fake, pty_holder):
    """xvm console on a real pty: output shown, input sent, Ctrl-] detaches."""
    master, slave = os.openpty()
    pty_holder.append(os.ttyname(slave))
    p = subprocess.Popen([XVM, "console", "web"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, **env))
    time.sleep(0.5)
    os.write(master, b"guest says hi\n")
    p.stdin.write(b"typed")
    p.stdin.flush()
    got = b""
    deadline = time.time() + 5
    while b"typed" not in got and time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            got += os.read(master, 100)
    check(got == b"typed", "console input reached the pty: %r" % got)
    p.stdin.write(b"more\x1dafter")
    p.stdin.flush()
    try:
        out, err = p.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    check(p.returncode == 0 and out == b"guest says hi\n", "console output %r %r" % (out, err))
    r, _, _ = select.select([master], [], [], 0.5)
    rest = os.read(master, 100) if r else b""
    check(rest == b"more", "console sent up to Ctrl-] only: %r" % rest)
    os.close(master)
    os.close(slave)
    pty_holder.clear()


def top_screen_check(env):
    """The full-screen view on a pty: table, 'e' switches to exits, 'q' quits."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 200, 0, 0))
    p = subprocess.Popen([XVM, "top", "-d", "0.3"], stdin=slave, stdout=slave,
                         stderr=subprocess.PIPE, env=dict(os.environ, **env))
    os.close(slave)

    def read_until(text, secs=5):
        buf, deadline = b"", time.time() + secs
        while text not in buf and time.time() < deadline:
            r, _, _ = select.select([master], [], [], 0.3)
            if r:
                try:
                    buf += os.read(master, 65536)
                except OSError:
                    break
        return buf

    check(b"VBD_WSECT" in read_until(b"VBD_WSECT") , "top screen shows the table")
    os.write(master, b"e")
    check(b"EXIT REASON" in read_until(b"EXIT REASON"), "top screen: e shows exits")
    os.write(master, b"q")
    rest = read_until(b"\x1b[?1049l")
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
    check(p.returncode == 0 and b"\x1b[?1049l" in rest, "top screen: q quits and restores")
    os.close(master)


def fake_checks(tmp):
    sock = os.path.join(tmp, "xvmd.sock")
    fake = FakeXvmd(sock, handler)
    env = {"XVMD_SOCKET": sock}
    cfg = os.path.join(tmp, "web.cfg")
    with open(cfg, "w") as f:
        f.write('name = "web"\nmemory = 256\n')
    rc, out, err = run(["create", "-p", cfg, "memory=512", 'name="w2"'], env=env)
    req = fake.requests[-1]
    check(rc == 0 and req["op"] == "create" and req["config"] == 'name = "web"\nmemory = 256\n'
          and req["overrides"] == ["memory=512", 'name="w2"'] and req["paused"] is True
          and req["source"] == cfg and req["api"] == 1, "create request %r" % req)
    check("unknown key 'foo'" in err and "created domain web (id 3)" in err, "create: %r" % err)

    rc, out, err = run(["list"], env=env)
    lines = out.splitlines()
    check(rc == 0 and lines[0] == "Name                                        ID   Mem VCPUs\tState\tTime(s)",
          "list header %r" % out)
    check(len(lines) == 2 and lines[1] == "%-40s %5d %5d %5d     %s  %8.1f" % (
        "web", 3, 512, 2, "-b----", 12.3), "list row %r" % lines[1:])
    rc, out, err = run(["list", "-l", "web"], env=env)
    check(rc == 0 and json.loads(out) == [{"domid": 3, "config": {"name": "web"}}]
          and fake.requests[-1]["long"] is True and fake.requests[-1]["domain"] == "web",
          "list -l %r" % out)

    rc, out, err = run(["info"], env=env)
    check(rc == 0 and "total_memory           : 4096\n" in out and out.startswith(
        "host                   : h\n"), "info %r" % out)
    check(run(["info", "kvm"], env=env)[1] == "pvm\n", "info kvm")
    check(run(["info", "nosuch"], env=env)[0] == 1, "info nosuch")

    for verb in ["destroy", "pause", "unpause"]:
        rc, out, err = run([verb, "web"], env=env)
        check(rc == 0 and fake.requests[-1] == {"op": verb, "domain": "web", "api": 1},
              "%s request %r" % (verb, fake.requests[-1]))
        rc, out, err = run([verb, "nosuch"], env=env)
        check(rc == 1 and err == "xvm: %s: domain 'nosuch' does not exist\n" % verb,
              "%s unknown domain: %r" % (verb, err))
    rc, out, err = run(["shutdown", "-w", "-t", "5", "web"], env=env)
    check(rc == 0 and fake.requests[-1]["wait"] is True and fake.requests[-1]["timeout_s"] == 5,
          "shutdown -w %r" % fake.requests[-1])
    run(["reboot", "web"], env=env)
    check("wait" not in fake.requests[-1], "reboot without -w")
    run(["rename", "web", "db"], env=env)
    check(fake.requests[-1]["name"] == "db", "rename")

    rc, out, err = run(["uptime"], env=env)
    check(out == "%-33s %4s %s\n%-33s %4d %s\n" % ("Name", "ID", "Uptime", "web", 3,
                                                     "1 day,  1:01:01"), "uptime %r" % out)
    rc, out, err = run(["vcpu-list", "web"], env=env)
    lines = out.splitlines()
    check(rc == 0 and lines[0].startswith("Name                             ") and
          lines[0].endswith("ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)") and
          lines[1].startswith("web                                  3     0") and
          lines[1].endswith("  r--       1.5  all / all"), "vcpu-list %r" % out)

    rc, out, err = run(["block-attach", "web", "/img/b.raw,raw,xvdb,w"], env=env)
    check(rc == 0 and fake.requests[-1]["spec"] == "/img/b.raw,raw,xvdb,w", "block-attach")
    run(["block-attach", "web", "/img/b.raw", "raw", "xvdb"], env=env)
    check(fake.requests[-1]["spec"] == "/img/b.raw,raw,xvdb", "block-attach pieces")
    run(["block-detach", "web", "xvdb"], env=env)
    check(fake.requests[-1]["vdev"] == "xvdb", "block-detach")
    rc, out, err = run(["block-list", "web"], env=env)
    check(out.splitlines()[1].split() == ["51712", "0", "web", "4", "xvda", "w", "qcow2",
                                          "/img/a.qcow2"], "block-list %r" % out)
    run(["network-attach", "web", "bridge=xvmbr0"], env=env)
    check(fake.requests[-1]["spec"] == "bridge=xvmbr0", "network-attach")
    run(["network-detach", "web", "00:16:3e:00:00:01"], env=env)
    check(fake.requests[-1].get("mac") == "00:16:3e:00:00:01", "network-detach mac")
    run(["network-detach", "web", "2"], env=env)
    check(fake.requests[-1].get("devid") == 2, "network-detach devid")
    rc, out, err = run(["network-list", "web"], env=env)
    check(out.splitlines()[1].split()[:3] == ["0", "0", "00:16:3e:00:00:01"], "network-list %r" % out)
    rc, out, err = run(["dmesg", "-c", "web"], env=env)
    check(out == "tick 1\ntick 2\n" and fake.requests[-1]["clear"] is True, "dmesg")
    rc, out, err = run(["console", "web"], env=env)
    check(rc == 1 and err.startswith("xvm: console: /nonexistent/pty: "), "console bad pty %r" % err)

    stats_calls[0] = 0
    rc, out, err = run(["top", "-b", "-i", "2", "-d", "0.5"], env=env)
    lines = out.splitlines()
    hdr = ("      NAME  STATE   CPU(sec) CPU(%)     MEM(k) MEM(%)  MAXMEM(k) MAXMEM(%) VCPUS "
           "NETS NETTX(k) NETRX(k) VBDS   VBD_OO   VBD_RD   VBD_WR  VBD_RSECT  VBD_WSECT SSID")
    check(rc == 0 and len(lines) == 4 and lines[0] == hdr and lines[2] == hdr, "top -b %r" % out)
    if len(lines) == 4:
        a, b = lines[1].split(), lines[3].split()
        check(a[0] == "web" and a[1] == "-----r" and a[2] == "5" and a[3] == "0.0", "top row 1 %r" % a)
        pct = float(b[3])
        check(b[2] == "6" and 120.0 < pct <= 200.0, "top CPU(%%) over 0.5 s: %r" % b)
        check(a[4] == "65536" and b[4] == "131072" and b[5] == "3.1" and b[7] == "12.5",
              "top MEM(k) MEM(%%) MAXMEM(%%) %r" % b)
        check(a[10] == "0" and b[10] == "4" and b[14] == "10" and b[16] == "80", "top I/O %r" % b)
    rc, out, err = run(["top", "-b", "-e", "-i", "2", "-d", "0.5"], env=env)
    lines = out.splitlines()
    check(rc == 0 and lines[0].split() == ["NAME", "EXIT", "REASON", "EXITS/s", "TOTAL"]
          and lines[1].split()[:2] == ["web", "io"], "top --exits %r" % out)
    if len(lines) >= 6:
        check(500.0 < float(lines[4].split()[2]) <= 1000.0 and lines[5].split()[:2] == ["hlt", "0.0"],
              "top --exits rates %r" % lines)
    rc, out, err = run(["top"], env=env)
    check(rc == 1 and "needs a terminal" in err, "top without a terminal %r" % err)
    console_check(env, fake, PTY)
    top_screen_check(env)


with tempfile.TemporaryDirectory() as tmp:
    offline_checks(tmp)
    fake_checks(tmp)
print("test_cli: %d failures" % failures)
sys.exit(1 if failures else 0)
