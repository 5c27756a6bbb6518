#!/usr/bin/env python3
"""test_xvmd_api.py - the xvmd API against a real xvmd, xvmstored and test guest.

usage: test_xvmd_api.py XVMD GUEST_ELF   (exit 77 without a usable /dev/kvm)

xvmd is started on a private run directory and store socket (it starts
xvmstored itself); the store is checked with storelib's client."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import storelib  # noqa: E402

XVMD = GUEST = None


def kvm_usable():
    return os.access("/dev/kvm", os.R_OK | os.W_OK)


def wait_for(pred, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


class Xvmd:
    def __init__(self, tmp):
        self.tmp = tmp
        self.run = os.path.join(tmp, "run")
        self.sock = os.path.join(self.run, "xvmd.sock")
        self.store = os.path.join(tmp, "store.sock")
        self.proc = None

    def start(self):
        os.makedirs(self.run, exist_ok=True)
        with open(os.path.join(self.tmp, "xvmd.stderr"), "ab") as log:
            self.proc = subprocess.Popen(
                [XVMD, "--rundir", self.run, "--socket", self.sock,
                 "--store-socket", self.store], stdout=log, stderr=log)
        if not wait_for(lambda: self.answers(), 15):
            raise RuntimeError("xvmd did not come up: " + self.stderr())

    def answers(self):
        try:
            return self.call({"api": 1, "op": "version"})["ok"]
        except OSError:
            return False

    def stderr(self):
        with open(os.path.join(self.tmp, "xvmd.stderr"), errors="replace") as f:
            return f.read()[-2000:]

    def call(self, req, timeout=30):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.sock)
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        return json.loads(buf)

    def op(self, op, **kw):
        return self.call(dict(api=1, op=op, **kw))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def config(name, extra="tests=serve", **keys):
    lines = ['name = "%s"' % name, 'kernel = "%s"' % GUEST, "memory = 32",
             'extra = "%s"' % extra]
    lines += ['%s = "%s"' % kv for kv in keys.items()]
    return "\n".join(lines) + "\n"


class XvmdApi(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="xvmd-test-")
        cls.d = Xvmd(cls.tmp)
        cls.d.start()
        cls.st = storelib.Client(cls.d.store)

    @classmethod
    def tearDownClass(cls):
        for dom in cls.d.op("list").get("domains", []):
            cls.d.op("destroy", domain=dom["name"])
        cls.d.stop()
        cls.st.close()
        pidf = os.path.join(cls.d.run, "xvmstored.pid")
        if os.path.exists(pidf):
            try:
                with open(pidf) as f:
                    os.kill(int(f.read()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def create(self, name, **kw):
        r = self.d.op("create", config=config(name, **kw), source=name + ".cfg")
        self.assertTrue(r["ok"], r)
        return r

    def names(self):
        return [x["name"] for x in self.d.op("list")["domains"]]

    def store_has(self, path):
        return not self.st.err("READ", path.encode() + b"\0")

    def test_create_list_destroy(self):
        r = self.create("t-life")
        domid, uuid = r["domid"], r["uuid"]
        self.assertGreaterEqual(domid, 1)
        dom = self.d.op("list", domain="t-life")["domains"][0]
        self.assertEqual(dom["state"], "r-----")
        self.assertEqual(dom["memory_kib"], 32768)
        self.assertGreater(dom["pid"], 0)
        self.assertEqual(self.st.read("/local/domain/%d/name" % domid), b"t-life")
        self.assertEqual(self.st.read("/vm/%s/domid" % uuid), str(domid).encode())
        # console output reaches console.log and dmesg
        self.assertTrue(wait_for(lambda: "XTEST" in self.d.op("dmesg", domain="t-life")["log"]))
        self.assertTrue(self.d.op("pause", domain=str(domid))["ok"])
        self.assertEqual(self.d.op("list", domain="t-life")["domains"][0]["state"], "--p---")
        self.assertTrue(self.d.op("unpause", domain="t-life")["ok"])
        # a vif on a bridge that does not exist: refused, nothing in the store
        r = self.d.op("network-attach", domain="t-life", spec="bridge=nosuchbr0")
        self.assertFalse(r["ok"])
        self.assertIn("nosuchbr0", r["error"])
        self.assertEqual(self.d.op("network-list", domain="t-life")["nics"], [])
        r = self.d.op("destroy", domain="t-life")
        self.assertTrue(r["ok"], r)
        self.assertNotIn("t-life", self.names())
        self.assertFalse(self.store_has("/local/domain/%d" % domid))
        self.assertFalse(self.store_has("/vm/%s" % uuid))
        self.assertFalse(os.path.exists(os.path.join(self.d.run, "dom", str(domid))))

    def test_hotplug_through_the_store(self):
        domid = self.create("t-hot")["domid"]
        img = os.path.join(self.tmp, "hot.raw")
        with open(img, "wb") as f:
            f.truncate(1 << 20)
        be = "/local/domain/0/backend/vbd/%d/51728" % domid
        fe = "/local/domain/%d/device/vbd/51728" % domid
        for k, v in (("params", img), ("dev", "xvdb"), ("mode", "w"), ("type", "raw"),
                     ("online", "1"), ("state", "1")):
            self.st.write(be + "/" + k, v)
        self.st.write(fe + "/state", "1")
        ok = wait_for(lambda: self.store_has(be + "/hotplug-status") and
                      self.st.read(be + "/state") == b"4")
        self.assertTrue(ok, "backend never connected")
        self.assertEqual(self.st.read(be + "/hotplug-status"), b"connected")
        disks = self.d.op("block-list", domain="t-hot")["disks"]
        self.assertEqual([x["vdev"] for x in disks], ["xvdb"])
        self.st.write(be + "/online", "0")
        self.st.write(be + "/state", "5")
        self.assertTrue(wait_for(lambda: not self.store_has(be) and not self.store_has(fe)))
        self.assertEqual(self.d.op("block-list", domain="t-hot")["disks"], [])
        self.d.op("destroy", domain="t-hot")

    def test_died_while_away_policy_applied(self):
        # powers off by itself after ~0.3 s; xvmd is gone by then
        self.create("t-away", extra="tests=serve serve.ticks=3", on_poweroff="preserve")
        self.d.kill9()
        domdir = os.path.join(self.d.run, "dom")
        time.sleep(1.0)
        self.d.start()
        dom = self.d.op("list", domain="t-away")
        self.assertTrue(dom["ok"], dom)
        self.assertEqual(dom["domains"][0]["state"], "---s--", dom)
        self.assertTrue(os.path.isdir(domdir))
        self.assertTrue(self.d.op("destroy", domain="t-away")["ok"])

    def test_pipelined_behind_shutdown_wait(self):
        """Requests sent behind a parked shutdown --wait are answered, in order,
        once it completes, without the client sending anything more."""
        self.create("t-pipe", on_poweroff="destroy")
        reqs = [dict(api=1, op="shutdown", domain="t-pipe", wait=True),
                dict(api=1, op="version"), dict(api=1, op="list", domain="t-pipe")]
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(self.d.sock)
            s.sendall("".join(json.dumps(r) + "\n" for r in reqs).encode())
            buf = b""
            while buf.count(b"\n") < 3:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "xvmd closed after %r" % buf)
                buf += chunk
        replies = [json.loads(l) for l in buf.decode().splitlines()]
        self.assertTrue(replies[0]["ok"], replies[0])
        self.assertEqual(replies[1].get("api"), 1, replies[1])
        self.assertFalse(replies[2]["ok"], replies[2])   # gone: on_poweroff destroy
        self.assertIn("t-pipe", replies[2]["error"])

    def test_duplicate_name(self):
        self.create("t-dup")
        r = self.d.op("create", config=config("t-dup"), source="dup.cfg")
        self.assertFalse(r["ok"])
        self.assertIn("t-dup", r["error"])
        self.assertEqual(self.names().count("t-dup"), 1)
        self.d.op("destroy", domain="t-dup")

    def test_bad_config_names_line(self):
        r = self.d.op("create", config='name = "x"\nmemory = [\n', source="bad.cfg")
        self.assertFalse(r["ok"])
        self.assertRegex(r["error"], r"^bad\.cfg:\d+")
        self.assertNotIn("\n", r["error"])

    def test_missing_image_leaves_nothing(self):
        before = self.st.ls("/local/domain") if self.store_has("/local/domain") else []
        text = config("t-missing") + 'disk = [ "/nonexistent/x.raw,raw,xvda,w" ]\n'
        r = self.d.op("create", config=text, source="m.cfg")
        self.assertFalse(r["ok"])
        self.assertIn("/nonexistent/x.raw", r["error"])
        self.assertNotIn("t-missing", self.names())
        after = self.st.ls("/local/domain") if self.store_has("/local/domain") else []
        self.assertEqual(sorted(before), sorted(after))

    def test_api_version_refused(self):
        r = self.d.call({"api": 2, "op": "version"})
        self.assertFalse(r["ok"])
        self.assertEqual(r["error"], "API version 2 not supported (this xvmd speaks 1)")
        self.assertFalse(self.d.op("no-such-op")["ok"])
        self.assertFalse(self.d.op("destroy", domain="nope")["ok"])

    def test_on_crash_preserve(self):
        self.create("t-crash", extra="tests=crash", on_crash="preserve")
        ok = wait_for(lambda: self.d.op("list", domain="t-crash")["domains"][0]["state"]
                      == "----c-", 15)
        self.assertTrue(ok, self.d.op("list", domain="t-crash"))
        self.assertTrue(self.d.op("destroy", domain="t-crash")["ok"])
        self.assertNotIn("t-crash", self.names())

    def test_on_crash_destroy(self):
        self.create("t-crash2", extra="tests=crash", on_crash="destroy")
        self.assertTrue(wait_for(lambda: "t-crash2" not in self.names(), 15))

    def test_readopt_after_kill9(self):
        r = self.create("t-adopt")
        pid = self.d.op("list", domain="t-adopt")["domains"][0]["pid"]
        self.d.kill9()
        os.kill(pid, 0)  # the VMM outlived xvmd
        self.d.start()
        dom = self.d.op("list", domain="t-adopt")["domains"]
        self.assertEqual(dom[0]["pid"], pid)
        self.assertEqual(dom[0]["domid"], r["domid"])
        self.assertTrue(self.d.op("pause", domain="t-adopt")["ok"])
        self.assertTrue(self.d.op("destroy", domain="t-adopt")["ok"])
        self.assertTrue(wait_for(lambda: not os.path.exists("/proc/%d" % pid), 5))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: test_xvmd_api.py XVMD GUEST_ELF")
    XVMD, GUEST = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if not kvm_usable():
        print("SKIP: /dev/kvm not usable")
        sys.exit(77)
    del sys.argv[1:]
    unittest.main(verbosity=2)
