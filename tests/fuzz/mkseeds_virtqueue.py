#!/usr/bin/env python3
# mkseeds_virtqueue.py - writes the seed corpus of the virtqueue fuzzer (layout: fuzz_virtqueue.c).
import os
import struct
import sys

DESC, NEXT, WRITE, INDIRECT = 0x110, 1, 2, 4


def seed(log2size, flags, ops, heads, descs, tables=(), avail_idx=None, addrs=None,
         steps=None, odd_size=False):
    """heads: avail ring entries; descs: {index: (addr, len, flags, next)};
    tables: [(gpa, [(addr, len, flags, next), ...])]; flags: 8 event idx,
    16 indirect, 32 custom addresses (addrs = (desc, avail, used));
    odd_size: size + 1 (not a power of two)."""
    size = 1 << log2size
    hdr = bytearray(16)
    hdr[0] = log2size | flags | (32 if addrs else 0)
    hdr[1] = (steps if steps is not None else len(ops)) - 1 | (64 if odd_size else 0)
    if addrs:
        hdr[2:8] = struct.pack('<HHH', *addrs)
    hdr[8:8 + len(ops)] = bytes(ops)
    ram = bytearray(0x400)
    idx = len(heads) if avail_idx is None else avail_idx
    struct.pack_into('<HH', ram, 0, 0, idx)
    for i, h in enumerate(heads):
        struct.pack_into('<H', ram, 4 + 2 * (i % size), h)
    for i, d in descs.items():
        struct.pack_into('<QIHH', ram, DESC + 16 * i, *d)
    for gpa, entries in tables:
        for i, d in enumerate(entries):
            struct.pack_into('<QIHH', ram, gpa + 16 * i, *d)
    return bytes(hdr) + bytes(ram)


def seeds():
    yield 'simple', seed(3, 0, [0] * 4, [0], {0: (0x2000, 64, 0, 0)})
    yield 'out-in', seed(3, 0, [0x30, 0x14, 0x52, 0x03, 0x26, 0x33], [0, 3],
                         {0: (0x2000, 16, NEXT, 1), 1: (0x2100, 512, WRITE, 0),
                          3: (0x2200, 8, NEXT, 5), 5: (0x2300, 8, NEXT, 6),
                          6: (0x2400, 1, WRITE, 0)})
    yield 'indirect', seed(3, 16, [0x40, 0x81, 0x00], [0, 1],
                           {0: (0x200, 48, INDIRECT, 0), 1: (0x2000, 4, NEXT, 2),
                            2: (0x280, 16, INDIRECT, 0)},
                           [(0x200, [(0x2000, 16, NEXT, 2), (0x2100, 4, WRITE, 0),
                                     (0x2200, 32, NEXT | WRITE, 1)]),
                            (0x280, [(0x2300, 64, WRITE, 0)])])
    yield 'event-idx', seed(2, 8, [0x06, 0x00, 0x03, 0x02, 0x00, 0x07, 0x00, 0x03],
                            [0, 1, 2], {0: (0x2000, 8, 0, 0), 1: (0x2100, 8, WRITE, 0),
                                        2: (0x2200, 8, 0, 0)}, steps=16)
    yield 'loop', seed(3, 0, [0], [0], {0: (0x2000, 4, NEXT, 1), 1: (0x2000, 4, NEXT, 0)})
    yield 'indirect-loop', seed(3, 16, [0], [0], {0: (0x200, 32, INDIRECT, 0)},
                                [(0x200, [(0x2000, 4, NEXT, 1), (0x2000, 4, NEXT, 0)])])
    yield 'nested', seed(3, 16, [0], [0], {0: (0x200, 16, INDIRECT, 0)},
                         [(0x200, [(0x280, 16, INDIRECT, 0)])])
    yield 'rw-order', seed(3, 0, [0], [0], {0: (0x2000, 4, WRITE | NEXT, 1),
                                            1: (0x2000, 4, 0, 0)})
    yield 'outside', seed(3, 0, [0], [0], {0: (0xfff0, 0x20, 0, 0)})
    yield 'jump', seed(3, 0, [0], [0], {0: (0x2000, 4, 0, 0)}, avail_idx=9)
    yield 'bad-addrs', seed(3, 0, [0], [0], {}, addrs=(0x118, 0x1, 0x1002))
    yield 'bad-size', seed(3, 0, [0, 3], [0], {0: (0x2000, 4, 0, 0)}, odd_size=True)
    yield 'bogus-push', seed(3, 0, [0, 0x2f, 0x07], [0], {0: (0x2000, 4, WRITE, 0)})
    yield 'addrs', seed(3, 8, [0, 0, 2, 3], [0, 0], {0: (0x2000, 4, 0, 0)},
                        addrs=(DESC, 0, 0x1000))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), 'corpus', 'virtqueue')
    os.makedirs(out, exist_ok=True)
    for name, data in seeds():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)


if __name__ == '__main__':
    main()
