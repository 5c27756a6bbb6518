#!/usr/bin/env python3
# test_store_proto.py - xvmstored speaks Xen's xenstore wire protocol: every op, errors, malformed input.
# usage: test_store_proto.py XVMSTORED
import os
import re
import socket
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from storelib import HDR, T, TYPES, Client, Daemon, XsError, stop_all  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL:", what)


def t_wire_header_matches_xen(d):
    # our type numbers must be the ones in Debian's xs_wire.h
    hdr = open("/usr/include/xen/io/xs_wire.h").read()
    body = hdr[hdr.index("enum xsd_sockmsg_type"):hdr.index("XS_TYPE_COUNT")]
    names = [m for m in re.findall(r"^\s*XS_([A-Z_]+)", body, re.M) if m != "DEBUG"]
    check(names[:20] == TYPES[:20], "type order matches xs_wire.h")
    check(T["RESET_WATCHES"] == T["SET_TARGET"] + 2, "RESET_WATCHES numbering")


def t_basic_ops(d):
    c = Client(d.sock)
    check(c.write("/a/b/c", "v1") == b"OK\0", "WRITE replies OK")
    check(c.read("/a/b/c") == b"v1", "READ returns the value without NUL")
    check(c.read("/a/b") == b"", "WRITE created parents with empty values")
    check(c.ls("/a") == ["b"], "DIRECTORY lists children")
    check(c.call("MKDIR", b"/a/m\0") == b"OK\0", "MKDIR")
    check(c.call("MKDIR", b"/a/m\0") == b"OK\0", "MKDIR of an existing node is OK")
    check(sorted(c.ls("/a")) == ["b", "m"], "DIRECTORY after MKDIR")
    check(c.write("/a/bin", b"\x00\x01\xff") == b"OK\0", "binary WRITE")
    check(c.read("/a/bin") == b"\x00\x01\xff", "binary value round trip")
    check(c.err("READ", b"/nope\0") == "ENOENT", "READ missing: ENOENT")
    check(c.call("RM", b"/a/b\0") == b"OK\0", "RM")
    check(c.err("READ", b"/a/b/c\0") == "ENOENT", "RM removes the subtree")
    check(c.call("RM", b"/a/b\0") == b"OK\0", "RM of a missing node with a parent: OK")
    check(c.err("RM", b"/x/y\0") == "ENOENT", "RM with a missing parent: ENOENT")
    check(c.err("RM", b"/\0") == "EINVAL", "RM / : EINVAL")
    check(c.call("GET_DOMAIN_PATH", b"7\0") == b"/local/domain/7\0", "GET_DOMAIN_PATH")
    check(c.call("IS_DOMAIN_INTRODUCED", b"0\0") == b"T\0", "dom0 is introduced")
    check(c.call("IS_DOMAIN_INTRODUCED", b"9\0") == b"F\0", "dom9 is not")
    # relative paths are under /local/domain/0 for the privileged socket
    c.write("rel/x", "1")
    check(c.read("/local/domain/0/rel/x") == b"1", "relative WRITE")
    check(c.err("READ", b"/bad//path\0") == "EINVAL", "// in a path: EINVAL")
    check(c.err("READ", b"/bad/\0") == "EINVAL", "trailing /: EINVAL")
    check(c.err("READ", b"/b@d\0") == "EINVAL", "@ in a node path: EINVAL")
    check(c.err("READ", b"/" + b"a" * 3100 + b"\0") == "EINVAL", "over-long path: EINVAL")
    c.close()


def t_perms(d):
    c = Client(d.sock)
    c.write("/p/n", "x")
    check(c.call("GET_PERMS", b"/p/n\0") == b"n0\0", "default perms inherited from /")
    check(c.call("SET_PERMS", b"/p/n\0r5\0w6\0b7\0") == b"OK\0", "SET_PERMS")
    check(c.call("GET_PERMS", b"/p/n\0") == b"r5\0w6\0b7\0", "GET_PERMS returns them, owner first")
    check(c.err("SET_PERMS", b"/p/n\0x5\0") == "EINVAL", "bad perm letter: EINVAL")
    check(c.err("SET_PERMS", b"/p/zz\0r0\0") == "ENOENT", "SET_PERMS on missing: ENOENT")
    c.write("/p/n/kid", "k")
    check(c.call("GET_PERMS", b"/p/n/kid\0") == b"r5\0w6\0b7\0", "children inherit perms")
    c.close()


def t_watches(d):
    w = Client(d.sock)
    c = Client(d.sock)
    check(w.watch("/w", "tok") == b"OK\0", "WATCH replies OK")
    check(w.next_event() == ("/w", "tok"), "an immediate event follows")
    c.write("/w/a/b", "1")
    check(w.next_event() == ("/w/a/b", "tok"), "child change fires with the changed path")
    c.write("/wx", "1")
    check(w.no_event(), "a sibling prefix (/wx) does not fire /w")
    c.call("RM", b"/w\0")
    check(w.next_event() == ("/w", "tok"), "RM fires once for the removed top node")
    check(w.no_event(), "no duplicate events for removed children")
    w.watch("rel", "r")
    check(w.next_event() == ("rel", "r"), "relative watch: initial event is relative")
    c.write("/local/domain/0/rel/q", "1")
    check(w.next_event() == ("rel/q", "r"), "relative watch: events are relative")
    w.watch("@introduceDomain", "intro")
    w.watch("@releaseDomain", "rel")
    check(w.next_event() == ("@introduceDomain", "intro"), "special watch initial event")
    check(w.next_event() == ("@releaseDomain", "rel"), "special watch initial event 2")
    c.call("INTRODUCE", b"3\0" + b"1234\0" + b"5\0")
    check(w.next_event() == ("@introduceDomain", "intro"), "@introduceDomain fires")
    check(c.call("IS_DOMAIN_INTRODUCED", b"3\0") == b"T\0", "dom3 introduced")
    c.call("RELEASE", b"3\0")
    check(w.next_event() == ("@releaseDomain", "rel"), "@releaseDomain fires")
    check(w.err("WATCH", b"/w\0tok\0") == "EEXIST", "duplicate watch: EEXIST")
    check(w.call("UNWATCH", b"/w\0tok\0") == b"OK\0", "UNWATCH")
    check(w.err("UNWATCH", b"/w\0tok\0") == "ENOENT", "UNWATCH unknown: ENOENT")
    c.write("/w/again", "1")
    check(w.no_event(), "no events after UNWATCH")
    check(w.call("RESET_WATCHES") == b"OK\0", "RESET_WATCHES")
    c.write("/local/domain/0/rel/z", "1")
    check(w.no_event(), "no events after RESET_WATCHES")
    w.close()
    c.close()


def t_transactions(d):
    a = Client(d.sock)
    b = Client(d.sock)
    a.write("/t/x", "0")
    tx = a.tx_start()
    check(tx != 0, "TRANSACTION_START gives an id")
    a.write("/t/x", "1", tx)
    a.write("/t/new/deep", "n", tx)
    check(a.read("/t/x", tx) == b"1", "tx sees its own write")
    check(b.read("/t/x") == b"0", "others do not see it before commit")
    check(b.err("READ", b"/t/new/deep\0") == "ENOENT", "nor its new nodes")
    check(a.tx_end(tx) == b"OK\0", "commit")
    check(b.read("/t/x") == b"1" and b.read("/t/new/deep") == b"n", "committed data visible")
    # conflict: both read then write the same node
    t1 = a.tx_start()
    t2 = b.tx_start()
    a.read("/t/x", t1)
    b.read("/t/x", t2)
    a.write("/t/x", "A", t1)
    b.write("/t/x", "B", t2)
    check(a.tx_end(t1) == b"OK\0", "first committer wins")
    check(b.err("TRANSACTION_END", b"T\0", t2) == "EAGAIN", "conflicting commit: EAGAIN")
    check(a.read("/t/x") == b"A", "the loser's write is discarded")
    # abort
    t3 = a.tx_start()
    a.write("/t/gone", "1", t3)
    a.call("RM", b"/t/new\0", t3)
    check(a.err("READ", b"/t/new/deep\0", t3) == "ENOENT", "RM inside tx hides the subtree")
    a.tx_end(t3, commit=False)
    check(a.err("READ", b"/t/gone\0") == "ENOENT" and a.read("/t/new/deep") == b"n",
          "abort discards everything")
    check(a.err("READ", b"/t/x\0", tx=424242) == "ENOENT", "unknown transaction id: ENOENT")
    check(a.err("TRANSACTION_END", b"T\0", tx=424242) == "ENOENT", "ending unknown tx: ENOENT")
    t4 = a.tx_start()
    check(a.err("TRANSACTION_END", b"X\0", t4) == "EINVAL", "TRANSACTION_END needs T or F")
    # creation conflict: a tx that saw a node absent loses if it appears
    t5 = a.tx_start()
    a.err("READ", b"/t/race\0", t5)
    a.write("/t/race", "tx", t5)
    b.write("/t/race", "outside")
    check(a.err("TRANSACTION_END", b"T\0", t5) == "EAGAIN", "create/create conflict: EAGAIN")
    # watches fire at commit, not before
    w = Client(d.sock)
    w.watch("/t", "t")
    w.next_event()
    t6 = a.tx_start()
    a.write("/t/late", "1", t6)
    check(w.no_event(), "no event before commit")
    a.tx_end(t6)
    check(w.next_event() == ("/t/late", "t"), "event at commit")
    for cl in (a, b, w):
        cl.close()


def t_directory_part(d):
    c = Client(d.sock)
    names = ["child-%04d-%s" % (i, "x" * 40) for i in range(200)]  # > 4096 bytes
    t = c.tx_start()
    for n in names:
        c.write("/big/" + n, "v", t)
    c.tx_end(t)
    check(c.err("DIRECTORY", b"/big\0") == "E2BIG", "DIRECTORY over 4096 bytes: E2BIG")
    got, off, gen = b"", 0, None
    while True:
        data = c.call("DIRECTORY_PART", b"/big\0" + str(off).encode() + b"\0")
        g, rest = data.split(b"\0", 1)
        check(gen is None or g == gen, "generation stable")
        gen = g
        got += rest
        off += len(rest)
        if rest.endswith(b"\0\0") or rest == b"\0":
            break
    listed = [x.decode() for x in got.split(b"\0") if x]
    check(listed == sorted(names), "DIRECTORY_PART returns every child once")
    c.close()


def t_unprivileged(d):
    c = Client(d.sock)
    c.call("INTRODUCE", b"15\0" + b"0\0" + b"0\0")
    dsock = d.sock + ".15"
    check(os.path.exists(dsock), "INTRODUCE creates the domain socket")
    c.write("/local/domain/15/x", "1")
    c.call("SET_PERMS", b"/local/domain/15\0n15\0")
    c.call("SET_PERMS", b"/local/domain/15/x\0n15\0")
    c.write("/secret", "s")
    u = Client(dsock)
    check(u.read("x") == b"1", "domain reads its own node via a relative path")
    check(u.err("READ", b"/secret\0") == "EACCES", "unreadable node: EACCES")
    check(u.err("WRITE", b"/secret\0v") == "EACCES", "unwritable node: EACCES")
    check(u.err("WRITE", b"/newtop\0v") == "EACCES", "creating under / : EACCES")
    check(u.write("y", "2") == b"OK\0", "domain creates under its home")
    check(u.call("GET_PERMS", b"y\0") == b"n15\0", "the creator owns the new node")
    # watchers only hear about nodes they may read (removals included)
    c.write("/hidden/x", "1")
    u.watch("/hidden", "h")
    check(u.next_event() == ("/hidden", "h"), "watch on an unreadable path: initial event")
    c.write("/hidden/x", "2")
    c.call("RM", b"/hidden/x\0")
    check(u.no_event(), "no events for unreadable nodes")
    c.call("SET_PERMS", b"/hidden\0r0\0")
    check(u.next_event() == ("/hidden", "h"), "SET_PERMS fires (the node is now readable)")
    c.write("/hidden/y", "1")
    check(u.next_event() == ("/hidden/y", "h"), "event once the node is readable")
    c.call("RM", b"/hidden\0")
    check(u.next_event() == ("/hidden", "h"), "removal of a readable node is reported")
    u.call("UNWATCH", b"/hidden\0h\0")
    # SET_TARGET: domain 15 acts for domain 17 (a device model for its guest)
    c.write("/local/domain/17/dm", "x")
    c.call("SET_PERMS", b"/local/domain/17/dm\0n17\0")
    check(u.err("READ", b"/local/domain/17/dm\0") == "EACCES", "no access before SET_TARGET")
    check(c.call("SET_TARGET", b"15\0" + b"17\0") == b"OK\0", "SET_TARGET")
    check(u.read("/local/domain/17/dm") == b"x", "the target's rights after SET_TARGET")
    check(u.err("SET_TARGET", b"15\0" + b"15\0") == "EACCES", "SET_TARGET is privileged")
    check(c.call("RESUME", b"15\0") == b"OK\0", "RESUME of an introduced domain")
    check(c.err("RESUME", b"99\0") == "ENOENT", "RESUME of an unknown domain: ENOENT")
    check(u.err("INTRODUCE", b"16\0" + b"0\0" + b"0\0") == "EACCES", "INTRODUCE is privileged")
    check(u.err("CONTROL", b"stats\0") == "EACCES", "CONTROL is privileged")
    check(u.err("SET_PERMS", b"y\0n16\0") == "EPERM", "cannot give a node away")
    check(u.call("SET_PERMS", b"y\0r15\0b16\0") == b"OK\0", "owner may share")
    w = Client(d.sock)
    w.watch("/local/domain/15/y", "tk")
    w.next_event()
    # quotas: node size, node count, watches, transactions
    c.call("CONTROL", b"quota\0node-size\0" + b"16\0")
    check(u.err("WRITE", b"big\0" + b"z" * 17) == "ENOSPC", "node-size quota: ENOSPC")
    c.call("CONTROL", b"quota\0nodes\0" + b"4\0")
    check(u.write("n3", "1") == b"OK\0", "under the node quota")
    check(u.err("WRITE", b"n4\0" + b"1") == "ENOSPC", "node quota: ENOSPC")
    t = u.tx_start()
    u.call("RM", b"n3\0", t)
    check(u.write("n5", "1", t) == b"OK\0", "a removal inside a transaction frees quota for it")
    check(u.err("WRITE", b"n6\0" + b"1", t) == "ENOSPC", "but no more than that")
    u.tx_end(t)
    check(u.err("READ", b"n3\0") == "ENOENT" and u.read("n5") == b"1", "committed")
    c.call("CONTROL", b"quota\0watches\0" + b"2\0")
    u.watch("a", "1")
    u.watch("b", "1")
    check(u.err("WATCH", b"c\0" + b"1\0") == "E2BIG", "watch quota: E2BIG")
    u2 = Client(dsock)
    check(u2.err("WATCH", b"d\0" + b"1\0") == "E2BIG", "watch quota is per domain, not per connection")
    c.call("CONTROL", b"quota\0transactions\0" + b"1\0")
    u.tx_start()
    check(u.err("TRANSACTION_START", b"\0") == "ENOSPC", "transaction quota: ENOSPC")
    check(u2.err("TRANSACTION_START", b"\0") == "ENOSPC", "transaction quota is per domain")
    u2.close()
    check(c.tx_start() > 0, "privileged connections bypass quotas")
    check(w.no_event() or True, "")
    c.call("RELEASE", b"15\0")
    check(not os.path.exists(dsock), "RELEASE removes the domain socket")
    try:
        u.read("x")
        check(False, "released domain's connection is closed")
    except (EOFError, OSError):
        pass
    for q, v in (("node-size", 2048), ("nodes", 1000), ("watches", 128), ("transactions", 10)):
        c.call("CONTROL", b"quota\0" + q.encode() + b"\0" + str(v).encode() + b"\0")
    c.close()
    w.close()


def t_malformed(d):
    good = Client(d.sock)
    good.write("/m", "1")
    bad = Client(d.sock)
    bad.send_raw(HDR.pack(T["READ"], 1, 0, 5000) + b"x" * 64)  # bad length
    try:
        bad.recv_msg()
        check(False, "oversized payload closes the connection")
    except (EOFError, OSError):
        pass
    check(good.read("/m") == b"1", "other clients carry on after a bad one")
    check("payload length 5000 exceeds 4096" in d.logtext(), "the reason is logged")
    c = Client(d.sock)
    check(c.err("READ", b"/m") == "EINVAL", "missing NUL: EINVAL")
    check(c.err("WRITE", b"") == "EINVAL", "WRITE without a path: EINVAL")
    check(c.err("READ", b"", raw_type=999) == "ENOSYS", "unknown type: ENOSYS")
    check(c.err("READ", b"", raw_type=T["SET_TARGET"] + 1) == "ENOSYS", "the removed RESTRICT: ENOSYS")
    check(c.err("SET_PERMS", b"/m\0") == "EINVAL", "SET_PERMS without perms: EINVAL")
    check(c.call("WRITE", b"/max\0" + b"v" * (4096 - 5)) == b"OK\0", "4096-byte payload accepted")
    check(len(c.read("/max")) == 4091, "and stored whole")
    c.send_raw(HDR.pack(T["READ"], 9, 0, 4097) + b"/m\0")
    try:
        c.recv_msg()
        check(False, "4097-byte payload closes the connection")
    except (EOFError, OSError):
        pass
    # a truncated message followed by a close must not disturb the daemon
    t = Client(d.sock)
    t.send_raw(HDR.pack(T["WRITE"], 1, 0, 100) + b"/trunc\0")
    t.close()
    check(good.read("/m") == b"1", "daemon alive after a truncated message")
    # a client that sends and never reads is cut off at 16 MiB of backlog
    good.write("/bigval", "x" * 4000)
    hog = Client(d.sock)
    req = HDR.pack(T["READ"], 1, 0, 8) + b"/bigval\0"
    try:
        for _ in range(100):
            hog.send_raw(req * 100)
            if "does not read its replies" in d.logtext():
                break
    except OSError:
        pass
    check("does not read its replies" in d.logtext(), "a client that never reads is dropped")
    check(good.read("/m") == b"1", "others are served meanwhile")
    hog.close()
    good.close()


def t_control(d):
    c = Client(d.sock)
    stats = c.call("CONTROL", b"stats\0").decode()
    check("nodes " in stats and "connections " in stats, "CONTROL stats")
    check(c.call("CONTROL", b"check\0") == b"OK\0", "CONTROL check: tree consistent")
    check(b"stats" in c.call("CONTROL", b"help\0"), "CONTROL help")
    check(c.err("CONTROL", b"frobnicate\0") == "EINVAL", "unknown CONTROL: EINVAL")
    s = Client(d.sock)
    s.call("CONTROL", b"snoop\0")
    c.write("/snooped", "abc")
    t, data = None, b""
    while t != T["CONTROL"]:
        t, _, _, data = s.recv_msg()
    f = data.rstrip(b"\0").decode().split()
    check(len(f) == 8 and f[4] == "WRITE" and f[5] == "/snooped" and f[6] == "3" and f[7] == "OK",
          "snoop record: time conn dom tx op path size result (%r)" % f)
    s.close()
    c.close()


class Model:
    """what the tree should hold: path -> value (parents implicit)"""

    def __init__(self, nodes=None):
        self.nodes = dict(nodes or {"/": b""})

    def write(self, p, v):
        parts = p.strip("/").split("/")
        for i in range(1, len(parts)):
            self.nodes.setdefault("/" + "/".join(parts[:i]), b"")
        self.nodes[p] = v

    def parent(self, p):
        return p.rsplit("/", 1)[0] or "/"

    def rm(self, p):
        if p not in self.nodes:
            return None if self.parent(p) in self.nodes else "ENOENT"
        for k in [k for k in self.nodes if k == p or k.startswith(p + "/")]:
            del self.nodes[k]
        return None

    def ls(self, p):
        pre = p.rstrip("/") + "/"
        return sorted(k[len(pre):] for k in self.nodes
                      if k.startswith(pre) and "/" not in k[len(pre):] and k != "/")


def t_model(d):
    """random ops, in and out of transactions, against a model of the tree"""
    import random
    rnd = random.Random(5)
    c = Client(d.sock)
    c.call("MKDIR", b"/model\0")
    base = Model({"/": b"", "/model": b""})
    bad = 0
    for round_ in range(60):
        tx = c.tx_start() if rnd.random() < 0.6 else 0
        m = Model(base.nodes) if tx else base
        for _ in range(rnd.randint(1, 25)):
            p = "/model/" + "/".join(rnd.choice("abc") for _ in range(rnd.randint(1, 3)))
            op = rnd.choice(["write", "write", "read", "rm", "ls", "mkdir"])
            if op == "write":
                v = str(rnd.randint(0, 99)).encode()
                c.write(p, v, tx)
                m.write(p, v)
            elif op == "mkdir":
                c.call("MKDIR", p.encode() + b"\0", tx)
                if p not in m.nodes:
                    m.write(p, b"")
            elif op == "read":
                want = m.nodes.get(p)
                got = c.err("READ", p.encode() + b"\0", tx) if want is None else c.read(p, tx)
                bad += got != (want if want is not None else "ENOENT")
            elif op == "rm":
                bad += c.err("RM", p.encode() + b"\0", tx) != m.rm(p)
            else:
                if p in m.nodes:
                    bad += c.ls(p, tx) != m.ls(p)
                else:
                    bad += c.err("DIRECTORY", p.encode() + b"\0", tx) != "ENOENT"
        if tx:
            commit = rnd.random() < 0.7
            c.tx_end(tx, commit)
            if commit:
                base = m
    for p in base.nodes:
        if p.startswith("/model"):
            bad += c.read(p) != base.nodes[p] or c.ls(p) != base.ls(p)
    check(bad == 0, "random ops agree with the model (%d mismatches)" % bad)
    check(c.call("CONTROL", b"check\0") == b"OK\0", "tree consistent after random ops")
    c.close()


def t_tx_counter(d):
    """concurrent read-modify-write transactions with retry lose no update"""
    import threading
    Client(d.sock).write("/cnt", "0")
    retries = [0]

    def worker():
        c = Client(d.sock)
        for _ in range(50):
            while True:
                t = c.tx_start()
                v = int(c.read("/cnt", t))
                c.write("/cnt", str(v + 1), t)
                if c.err("TRANSACTION_END", b"T\0", t) is None:
                    break
                retries[0] += 1
        c.close()
    ths = [threading.Thread(target=worker) for _ in range(4)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    check(Client(d.sock).read("/cnt") == b"200",
          "4 x 50 transactional increments give 200 (%d EAGAIN retries)" % retries[0])


def main():
    d = Daemon(sys.argv[1]).start()
    try:
        for name, fn in list(globals().items()):
            if name.startswith("t_") and callable(fn):
                try:
                    fn(d)
                except Exception:
                    FAILS.append(name)
                    print("FAIL: %s raised" % name)
                    traceback.print_exc()
        check(d.proc.poll() is None, "daemon still running at the end")
    finally:
        stop_all()
        d.cleanup()
    print("store proto: %d failures" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
