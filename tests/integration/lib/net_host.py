# net_host.py - the host side of the test guest's net test, run in a test's
# network namespace: bind an AF_PACKET socket to a tap or bridge, wait for the
# guest's XVM-NET-HELLO broadcast, send N frames to its MAC and count the
# echoes; prints "HOST hello=MAC echoed=K". Modes: echo, gso (a 6000-byte TSO
# segment first), flood SIZE COUNT GOFILE (rx benchmark).
# usage: python3 net_host.py IFACE N MODE [ARGS]
import os, socket, sys, time
tap, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
s.bind((tap, 0))
s.settimeout(0.5)
me = bytes.fromhex(open("/sys/class/net/%s/address" % tap).read().strip().replace(":", ""))
print("READY", flush=True)
deadline = time.time() + 60
guest = None
def frames():
    while time.time() < deadline:
        try:
            yield s.recv(65536)
        except socket.timeout:
            continue
if mode == "flood":                      # rx benchmark: wait for the go file, flood
    size, count = n, int(sys.argv[4])
    while not os.path.exists(sys.argv[5]) and time.time() < deadline:
        time.sleep(0.01)
    f = b"\xff" * 6 + me + b"\x88\xb6" + b"F" * (size - 14)
    t0 = time.time()
    for i in range(count):
        while True:
            try:
                s.send(f); break
            except OSError:              # tap queue full: the guest is slower
                time.sleep(0.0001)
    print("HOST flood=%d size=%d secs=%.3f" % (count, size, time.time() - t0), flush=True)
    sys.exit(0)
for f in frames():
    if f[12:14] == b"\x88\xb5" and f[14:27] == b"XVM-NET-HELLO" and f[0:6] == b"\xff" * 6:
        guest = f[6:12]
        break
if guest is None:
    print("HOST hello=none"); sys.exit(1)
echoed = 0
if mode == "gso":   # a 6000-byte TCP segment with a GSO header (the tap keeps it whole
                    # for a guest that took GUEST_TSO4, else the host splits it)
    import struct
    g = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    g.setsockopt(263, 15, 1)                 # SOL_PACKET, PACKET_VNET_HDR
    g.bind((tap, 0))
    pay = b"t" * 6000
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + 20 + len(pay), 1, 0, 64, 6, 0,
                               bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])))
    c = sum(struct.unpack("!10H", ip)); c = (c & 0xffff) + (c >> 16); c = (c & 0xffff) + (c >> 16)
    ip[10:12] = struct.pack("!H", ~c & 0xffff)
    ps = sum(struct.unpack("!4H", ip[12:20])) + 6 + 20 + len(pay)
    while ps >> 16: ps = (ps & 0xffff) + (ps >> 16)
    tcp = struct.pack("!HHIIBBHHH", 7777, 7777, 1, 0, 5 << 4, 0x18, 65535, ps, 0)
    g.send(struct.pack("<BBHHHH", 1, 1, 54, 1448, 34, 16) + guest + me + b"\x08\x00" + bytes(ip) + tcp + pay)
for i in range(n):
    nonce = os.urandom(8).hex().encode()
    s.send(guest + me + b"\x88\xb5" + b"XVM-HOST " + nonce + b" " + b"p" * 40)
    for f in frames():
        if f[12:14] == b"\x88\xb5" and f[0:6] == me and f[6:12] == guest:
            if f[14:22] == b"XVM-ECHO" and f[23:39] == nonce:
                echoed += 1
            break
print("HOST hello=%s echoed=%d" % (guest.hex(":"), echoed), flush=True)
