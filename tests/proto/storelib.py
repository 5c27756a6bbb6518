# storelib.py - helpers for the xvmstored protocol tests: start the daemon, speak the wire format.
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

# message types, in xen/io/xs_wire.h order (checked against the header by
# test_store_proto.py so a mismatch fails loudly)
TYPES = ["CONTROL", "DIRECTORY", "READ", "GET_PERMS", "WATCH", "UNWATCH",
         "TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE",
         "GET_DOMAIN_PATH", "WRITE", "MKDIR", "RM", "SET_PERMS", "WATCH_EVENT",
         "ERROR", "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET", None,
         "RESET_WATCHES", "DIRECTORY_PART"]
T = {name: i for i, name in enumerate(TYPES) if name}
HDR = struct.Struct("<IIII")
LIVE = []  # every daemon started, so a failing test cannot leave one behind


def stop_all():
    for d in LIVE:
        d.stop()


class Daemon:
    """xvmstored in the foreground on a private socket and database."""

    def __init__(self, exe, tmp=None, db=None, args=()):
        self.exe = exe
        self.own_tmp = tmp is None
        self.tmp = tmp or tempfile.mkdtemp(prefix="xvmstore-")
        self.sock = os.path.join(self.tmp, "sock")
        self.db = db or os.path.join(self.tmp, "store.db")
        self.log = os.path.join(self.tmp, "daemon.log")
        self.args = list(args)
        self.proc = None

    def start(self, wait=True):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [self.exe, "--socket", self.sock, "--db", self.db, "--foreground", "-v"]
            + self.args, stdout=logf, stderr=logf)
        LIVE.append(self)
        if not wait:
            return self
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("xvmstored exited %d: %s" % (self.proc.returncode, self.logtext()))
            try:
                Client(self.sock).close()
                return self
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("xvmstored did not come up")

    def logtext(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        self.stop()
        if self.own_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class XsError(Exception):
    def __init__(self, err):
        super().__init__(err)
        self.err = err


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.req = 0
        self.events = []

    def close(self):
        self.s.close()

    def send_raw(self, data):
        self.s.sendall(data)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def recv_msg(self):
        t, rid, tx, ln = HDR.unpack(self.recv_exact(HDR.size))
        return t, rid, tx, self.recv_exact(ln)

    def call(self, op, payload=b"", tx=0, raw_type=None):
        """one request; returns the reply payload, raises XsError on XS_ERROR"""
        self.req += 1
        t = T[op] if raw_type is None else raw_type
        self.s.sendall(HDR.pack(t, self.req, tx, len(payload)) + payload)
        while True:
            rt, rid, rtx, data = self.recv_msg()
            if rt == T["WATCH_EVENT"] or rid != self.req:
                self.events.append((rt, data))
                continue
            if rt == T["ERROR"]:
                raise XsError(data.rstrip(b"\0").decode())
            assert rt == t, "reply type %d for request %d" % (rt, t)
            assert rtx == tx
            return data

    def err(self, op, payload=b"", tx=0, raw_type=None):
        try:
            self.call(op, payload, tx, raw_type)
        except XsError as e:
            return e.err
        return None

    # conveniences
    def read(self, path, tx=0):
        return self.call("READ", path.encode() + b"\0", tx)

    def write(self, path, value, tx=0):
        if isinstance(value, str):
            value = value.encode()
        return self.call("WRITE", path.encode() + b"\0" + value, tx)

    def ls(self, path, tx=0):
        data = self.call("DIRECTORY", path.encode() + b"\0", tx)
        return [x.decode() for x in data.split(b"\0")[:-1]]

    def watch(self, path, token):
        return self.call("WATCH", path.encode() + b"\0" + token.encode() + b"\0")

    def tx_start(self):
        return int(self.call("TRANSACTION_START", b"\0").rstrip(b"\0"))

    def tx_end(self, tx, commit=True):
        return self.call("TRANSACTION_END", b"T\0" if commit else b"F\0", tx)

    def next_event(self, timeout=5):
        """the next watch event as (path, token)"""
        while True:
            for i, (t, data) in enumerate(self.events):
                if t == T["WATCH_EVENT"]:
                    del self.events[i]
                    p, tok = data.split(b"\0")[:2]
                    return p.decode(), tok.decode()
            self.s.settimeout(timeout)
            try:
                self.events.append(self.recv_msg()[::3])
            finally:
                self.s.settimeout(10)

    def no_event(self, wait=0.2):
        self.s.settimeout(wait)
        try:
            t, _, _, data = self.recv_msg()
            self.events.append((t, data))
        except socket.timeout:
            pass
        finally:
            self.s.settimeout(10)
        return not any(t == T["WATCH_EVENT"] for t, _ in self.events)
