#!/bin/sh
# mkguest.sh - xvm's guest kit builder: Debian cloud kernel + busybox initramfs with a scriptable /init.
#
# usage: tools/mkguest.sh [--refresh] [--force] [OUTDIR]
#        tools/mkguest.sh --dir            print the default OUTDIR
#        tools/mkguest.sh --resolve        print the packages a build would use
#        tools/mkguest.sh --help
#
# OUTDIR (default: $XVM_GUEST_KIT, else ${XDG_CACHE_HOME:-~/.cache}/xvm/guest-kit) receives
#   vmlinuz            the kernel package's bzImage, unchanged
#   vmlinux            the uncompressed ELF inside the bzImage payload (boots through its PVH note)
#   initramfs.cpio.gz  static busybox, the virtio modules, /init
#   VERSION            the kernel release (uname -r)
#   manifest           packages, .deb SHA256s, modules, PVH entry, output SHA256s
#   debs/              the downloaded .debs, reused while their SHA256 matches apt's index
#
# A kit that is complete and was built by this same script with the same settings is reused
# without asking apt (a warm run takes milliseconds). --refresh asks apt for the newest
# packages and rebuilds only when they changed; --force always rebuilds.
# Downloads use 'apt-get download' (root is not needed). The same .debs give byte-identical
# outputs: the archive has fixed inode numbers, owner 0:0, mtime $SOURCE_DATE_EPOCH (default 0)
# and gzip without a timestamp.
#
# Settings (environment, optional):
#   XVM_KERNEL_META  meta package resolved to a kernel (default linux-image-cloud-amd64)
#   XVM_KERNEL_PKG   use this kernel package (e.g. linux-image-6.1.0-56-cloud-amd64)
#   XVM_KERNEL_VER   ... at this Debian version; XVM_BUSYBOX_VER likewise for busybox-static
#   XVM_MODULES      modules to put in, in any order (dependencies are added; NAME? = optional)
#
# The guest's /init reads the kernel command line:
#   xvm.action=poweroff|shell|blktest|nettest   (default shell; every action ends in power-off)
#   xvm.ip=ADDR/LEN xvm.peer=ADDR   addresses for nettest (ping the peer 3 times)
#   xvm.blkmb=N                     blktest also times an O_DIRECT read of N MiB of /dev/vda
# and prints XVM-GUEST-READY on the console once the modules are loaded, then
# "XVM-RESULT <action> OK|FAIL <detail>" for blktest and nettest.
set -eu
export LC_ALL=C
umask 022

fail() { echo "mkguest: error: $*" >&2; exit 1; }
say() { echo "mkguest: $*" >&2; }
usage() { sed -n '4,/^set -eu/{/^set -eu/d;s/^# \{0,1\}//;p}' "$0"; }
have() { command -v "$1" >/dev/null 2>&1; }
require() { for t; do have "$t" || fail "needs '$t' (see tools/deps.sh)"; done; }

META=${XVM_KERNEL_META:-linux-image-cloud-amd64}
MODS=${XVM_MODULES:-"virtio_pci virtio_blk virtio_net virtio_console virtio_rng? virtio_mmio?"}
EPOCH=${SOURCE_DATE_EPOCH:-0}
case $EPOCH in ''|*[!0-9]*) fail "SOURCE_DATE_EPOCH must be a number of seconds, not '$EPOCH'" ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/$(basename "$0")

default_dir() {
    if [ -n "${XVM_GUEST_KIT:-}" ]; then echo "$XVM_GUEST_KIT"; return; fi
    [ -n "${XDG_CACHE_HOME:-}${HOME:-}" ] || fail "neither HOME nor XVM_GUEST_KIT is set"
    echo "${XDG_CACHE_HOME:-$HOME/.cache}/xvm/guest-kit"
}

# apt_field PKG[=VER] FIELD -> the field of the candidate (or pinned) version
apt_field() {
    apt-cache show --no-all-versions "$1" 2>/dev/null | awk -v f="$2:" '$1 == f { print $2; exit }'
}

# resolve: sets KPKG KVER KSHA BVER BSHA KREL from apt's index (and the pins)
resolve() {
    require apt-cache
    KPKG=${XVM_KERNEL_PKG:-}
    if [ -z "$KPKG" ]; then
        KPKG=$(apt-cache show --no-all-versions "$META" 2>/dev/null | awk '/^Depends:/ {
            for (i = 2; i <= NF; i++) if ($i ~ /^linux-image-[0-9]/) { sub(/,$/, "", $i); print $i; exit } }')
        [ -n "$KPKG" ] || fail "apt cannot resolve '$META' to a kernel package (run 'apt-get update')"
    fi
    KREL=${KPKG#linux-image-}
    kspec=$KPKG${XVM_KERNEL_VER:+=$XVM_KERNEL_VER}
    bspec=busybox-static${XVM_BUSYBOX_VER:+=$XVM_BUSYBOX_VER}
    KVER=$(apt_field "$kspec" Version); KSHA=$(apt_field "$kspec" SHA256)
    BVER=$(apt_field "$bspec" Version); BSHA=$(apt_field "$bspec" SHA256)
    [ -n "$KVER" ] && [ -n "$KSHA" ] || fail "apt does not know '$kspec' (run 'apt-get update')"
    [ -n "$BVER" ] && [ -n "$BSHA" ] || fail "apt does not know '$bspec' (run 'apt-get update')"
}

# fetch PKG VER SHA256 -> prints the path of a verified .deb in $DEBS (downloads it if needed)
fetch() {
    for f in "$DEBS/$1"_*.deb; do
        [ -f "$f" ] && [ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$3" ] && { echo "$f"; return 0; }
    done
    say "downloading $1 $2"
    dl=$(mktemp -d "$DEBS/.dl.XXXXXX")
    chmod 755 "$dl"   # apt's _apt sandbox user must be able to write here when run as root
    if ! (cd "$dl" && apt-get download -q=2 "$1=$2" >/dev/null 2>"$dl/err"); then
        msg=$(grep -v '^W:' "$dl/err" | head -n 1); rm -rf "$dl"
        fail "apt-get download $1=$2: ${msg:-failed}"
    fi
    set -- "$1" "$2" "$3" "$dl/$1"_*.deb
    [ -f "$4" ] || { rm -rf "$dl"; fail "apt-get download $1=$2 wrote no .deb"; }
    [ "$(sha256sum <"$4" | cut -d' ' -f1)" = "$3" ] || { rm -rf "$dl"; fail "$1 $2: SHA256 differs from apt's index"; }
    rm -f "$DEBS/$1"_*.deb
    mv "$4" "$DEBS/" && rm -rf "$dl"
    echo "$DEBS/${4##*/}"
}

# stamp: what the kit depends on besides the .debs (this script and the settings)
stamp() {
    { sha256sum <"$SELF"; echo "$META|${XVM_KERNEL_PKG:-}|${XVM_KERNEL_VER:-}|${XVM_BUSYBOX_VER:-}|$MODS|$EPOCH"; } |
        sha256sum | cut -d' ' -f1
}

kit_complete() { # OUTDIR -> 0 when every output exists and the stamp matches
    for f in vmlinuz vmlinux initramfs.cpio.gz VERSION manifest; do [ -s "$1/$f" ] || return 1; done
    [ "$(sed -n 's/^stamp: //p' "$1/manifest")" = "$(stamp)" ]
}

# write_init FILE: the guest's /init (busybox sh)
write_init() {
    cat >"$1" <<'INIT'
#!/bin/sh
# /init of the xvm guest kit (written by tools/mkguest.sh): mount, load modules, run xvm.action.
export PATH=/bin
/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
REL=$(uname -r)
while read -r ko; do
    insmod "/lib/modules/$REL/$ko" 2>/dev/null || echo "xvm-init: cannot load ${ko##*/}"
done </etc/xvm-modules
ACTION=shell IP= PEER= BLKMB=
for arg in $(cat /proc/cmdline); do
    case $arg in
    xvm.action=*) ACTION=${arg#*=} ;;
    xvm.ip=*) IP=${arg#*=} ;;
    xvm.peer=*) PEER=${arg#*=} ;;
    xvm.blkmb=*) BLKMB=${arg#*=} ;;
    esac
done
echo XVM-GUEST-READY
echo "xvm-init: kernel $REL up $(cut -d' ' -f1 /proc/uptime)s action $ACTION"

wait_for() { # PATH: up to 5 s for a device to appear
    n=0
    while [ ! -e "$1" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
    [ -e "$1" ]
}
ns() { # nanoseconds since boot
    awk '/^now at/ { print $3; exit }' /proc/timer_list 2>/dev/null || awk '{ print int($1 * 1e9) }' /proc/uptime
}
blktest() {
    wait_for /dev/vda || { echo "XVM-RESULT blktest FAIL no /dev/vda"; return; }
    head -c 1048576 /dev/urandom >/tmp/w
    dd if=/tmp/w of=/dev/vda bs=1M count=1 conv=fsync 2>/dev/null &&
        blockdev --flushbufs /dev/vda && echo 3 >/proc/sys/vm/drop_caches &&
        dd if=/dev/vda of=/tmp/r bs=1M count=1 2>/dev/null &&
        cmp -s /tmp/w /tmp/r || { echo "XVM-RESULT blktest FAIL 1 MiB read back differs"; return; }
    detail="1 MiB written and read back"
    if [ -n "$BLKMB" ]; then
        t0=$(ns)
        dd if=/dev/vda of=/dev/null bs=1M count="$BLKMB" iflag=direct 2>/dev/null
        t1=$(ns)
        detail="$detail; $(awk -v n="$BLKMB" -v a="$t0" -v b="$t1" 'BEGIN {
            s = (b - a) / 1e9; printf "O_DIRECT read %d MiB in %.3f s (%.1f MiB/s)", n, s, s > 0 ? n / s : 0 }')"
    fi
    echo "XVM-RESULT blktest OK $detail"
}
nettest() {
    [ -n "$IP" ] && [ -n "$PEER" ] || { echo "XVM-RESULT nettest FAIL xvm.ip= and xvm.peer= are needed"; return; }
    wait_for /sys/class/net/eth0 || { echo "XVM-RESULT nettest FAIL no eth0"; return; }
    ip link set lo up
    ip addr add "$IP" dev eth0 && ip link set eth0 up &&
        ping -c 3 -W 3 "$PEER" || { echo "XVM-RESULT nettest FAIL no reply from $PEER"; return; }
    echo "XVM-RESULT nettest OK $IP reached $PEER"
}
case $ACTION in
poweroff) ;;
shell) setsid cttyhack sh -l ;;
blktest) blktest ;;
nettest) nettest ;;
*) echo "xvm-init: unknown xvm.action=$ACTION" ;;
esac
sync
# with ACPI the kernel powers off; without it, power-off only halts, so reboot instead
if [ -d /sys/firmware/acpi/tables ]; then poweroff -f; else reboot -f; fi
INIT
}

# the python part: module closure, cpio writer, vmlinux extraction, output hashes
PYHELPER='
import gzip, hashlib, lzma, os, struct, subprocess, sys

def die(msg):
    sys.stderr.write("mkguest: error: %s\n" % msg)
    sys.exit(1)

def norm(name):
    return name.replace("-", "_")

def modules(kroot, krel, wanted, dest):
    """Copy the wanted modules and their dependencies to dest; return the load order."""
    base = None
    for d in ("lib/modules", "usr/lib/modules"):
        if os.path.isdir(os.path.join(kroot, d, krel)):
            base = os.path.join(kroot, d, krel)
    if base is None:
        die("kernel package has no modules directory for %s" % krel)
    index = {}
    for top, _, files in os.walk(base):
        for f in files:
            for ext in (".ko", ".ko.xz", ".ko.gz"):
                if f.endswith(ext):
                    index[norm(f[:-len(ext)])] = os.path.relpath(os.path.join(top, f), base)
    builtin = set()
    try:
        with open(os.path.join(base, "modules.builtin")) as fh:
            builtin = {norm(os.path.basename(l.strip())[:-3]) for l in fh if l.strip()}
    except OSError:
        pass
    order, notes, seen = [], [], set()
    def add(name, optional, chain):
        if name in seen:
            return
        seen.add(name)
        if name in builtin:
            notes.append("%s=builtin" % name)
            return
        if name not in index:
            if optional:
                notes.append("%s=absent" % name)
                return
            die("module %s (%s) is neither in the package nor built in" % (name, " <- ".join(chain)))
        rel = index[name]
        with open(os.path.join(base, rel), "rb") as fh:
            data = fh.read()
        if rel.endswith(".xz"):
            data, rel = lzma.decompress(data), rel[:-3]
        elif rel.endswith(".gz"):
            data, rel = gzip.decompress(data), rel[:-3]
        deps = []
        for field in data.split(b"\0"):
            if field.startswith(b"depends="):
                deps = [norm(d) for d in field[8:].decode().split(",") if d]
        for d in deps:
            add(d, False, chain + [d])
        out = os.path.join(dest, "lib/modules", krel, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "wb") as fh:
            fh.write(data)
        order.append((name, rel, deps))
    for w in wanted:
        opt = w.endswith("?")
        add(norm(w.rstrip("?")), opt, [norm(w.rstrip("?"))])
    return order, notes

def newc(entries, mtime):
    """A newc archive of (name, mode, data, rdev) in the order given, with fixed inodes."""
    out = bytearray()
    def put(ino, name, mode, data, rdev):
        nm = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            ino, mode, 0, 0, 2 if mode & 0o170000 == 0o040000 else 1, mtime, len(data),
            0, 0, rdev[0], rdev[1], len(nm), 0))
        out.extend(hdr.encode() + nm)
        out.extend(b"\0" * (-len(out) % 4))
        out.extend(data)
        out.extend(b"\0" * (-len(out) % 4))
    for ino, (name, mode, data, rdev) in enumerate(entries, 1):
        put(ino, name, mode, data, rdev)
    put(0, "TRAILER!!!", 0, b"", (0, 0))
    return bytes(out)

def tree(root):
    """Entries for every file under root, sorted, plus /dev/console."""
    ents = []
    for top, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(top, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                ents.append((rel, 0o120777, os.readlink(p).encode(), (0, 0)))
            elif os.path.isdir(p):
                ents.append((rel, 0o040755, b"", (0, 0)))
            else:
                with open(p, "rb") as fh:
                    ents.append((rel, 0o100755 if st.st_mode & 0o100 else 0o100644, fh.read(), (0, 0)))
    ents.append(("dev/console", 0o020600, b"", (5, 1)))
    return sorted(ents)

def pvh_entry(elf):
    """The PVH entry point (Xen ELF note 18) of a 64-bit ELF, or None."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        ptype, _, off, _, _, filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if ptype != 4:
            continue
        pos, end = off, off + filesz
        while pos + 12 <= end:
            nsz, dsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + nsz]
            desc = pos + 12 + ((nsz + 3) & ~3)
            if name.rstrip(b"\0") == b"Xen" and ntype == 18:
                return struct.unpack_from("<I" if dsz == 4 else "<Q", elf, desc)[0]
            pos = desc + ((dsz + 3) & ~3)
    return None

def vmlinux(bzimage, out):
    """Decompress the bzImage payload to out; return the PVH entry point."""
    with open(bzimage, "rb") as fh:
        bz = fh.read()
    if bz[0x202:0x206] != b"HdrS":
        die("%s is not a bzImage" % bzimage)
    setup = ((bz[0x1f1] or 4) + 1) * 512
    poff, plen = struct.unpack_from("<II", bz, 0x248)
    payload = bz[setup + poff:setup + poff + plen]
    size, = struct.unpack_from("<I", payload, len(payload) - 4)
    magic = payload[:4]
    if magic[:2] == b"\x1f\x8b":
        elf = zlib_stream(payload)
    elif magic == b"\xfd7zX":
        elf = lzma.LZMADecompressor().decompress(payload)
    else:
        tool = {b"\x02\x21\x4c\x18": "lz4", b"\x28\xb5\x2f\xfd": "zstd"}.get(magic)
        if tool is None:
            die("unknown compression of the bzImage payload (magic %s)" % magic.hex())
        try:
            r = subprocess.run([tool, "-dc"], input=payload, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        except FileNotFoundError:
            die("the bzImage payload is %s-compressed but %s is not installed" % (tool, tool))
        elf = r.stdout   # the trailing size word makes the tool complain; the size is checked below
    if len(elf) != size or elf[:4] != b"\x7fELF":
        die("could not extract vmlinux from %s (got %d bytes, expected %d)" % (bzimage, len(elf), size))
    entry = pvh_entry(elf)
    if entry is None:
        die("vmlinux from %s has no PVH entry note; xvm needs one to boot it as ELF" % bzimage)
    with open(out, "wb") as fh:
        fh.write(elf)
    return entry

def zlib_stream(payload):
    import zlib
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(payload)

def main():
    cmd = sys.argv[1]
    if cmd == "modules":
        kroot, krel, dest, listfile = sys.argv[2:6]
        order, notes = modules(kroot, krel, sys.argv[6].split(), dest)
        with open(listfile, "w") as fh:
            fh.writelines(rel + "\n" for _, rel, _ in order)
        moddir = os.path.join(dest, "lib/modules", krel)
        byname = {n: rel for n, rel, _ in order}
        with open(os.path.join(moddir, "modules.dep"), "w") as fh:
            for n, rel, deps in order:
                fh.write("%s:%s\n" % (rel, "".join(" " + byname[d] for d in deps if d in byname)))
        print(" ".join(n for n, _, _ in order))
        print(" ".join(notes) or "none")
    elif cmd == "cpio":
        root, out, mtime = sys.argv[2], sys.argv[3], int(sys.argv[4])
        arc = newc(tree(root), mtime)
        with open(out, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
            gz.write(arc)
        print(hashlib.sha256(arc).hexdigest())
    elif cmd == "vmlinux":
        print("0x%x" % vmlinux(sys.argv[2], sys.argv[3]))

main()
'
py() { python3 -c "$PYHELPER" "$@"; }

build() { # OUTDIR
    require apt-get apt-cache dpkg-deb python3 sha256sum
    OUT=$1
    mkdir -p "$OUT/debs" 2>/dev/null || fail "cannot create $OUT"
    OUT=$(cd "$OUT" && pwd); DEBS=$OUT/debs
    if have flock; then   # one builder per kit; the others wait, then find it built
        exec 9>"$OUT/.lock" && flock 9 || fail "cannot lock $OUT/.lock"
        if [ "$FORCE" = 0 ] && [ "$REFRESH" = 0 ] && kit_complete "$OUT"; then
            say "kit $(cat "$OUT/VERSION") in $OUT was just built by another mkguest"; return 0
        fi
    fi
    resolve
    if [ "$FORCE" = 0 ] && kit_complete "$OUT" &&
        grep -q "^kernel: $KPKG $KVER " "$OUT/manifest" && grep -q "^busybox: busybox-static $BVER " "$OUT/manifest"; then
        say "kit $(cat "$OUT/VERSION") in $OUT is up to date"; return 0
    fi
    t0=$(date +%s)
    kdeb=$(fetch "$KPKG" "$KVER" "$KSHA")
    bdeb=$(fetch busybox-static "$BVER" "$BSHA")
    W=$(mktemp -d "$OUT/.build.XXXXXX")
    trap 'rm -rf "$W"' EXIT
    trap 'exit 130' INT TERM
    dpkg-deb -x "$kdeb" "$W/kernel" || fail "cannot unpack $kdeb"
    dpkg-deb -x "$bdeb" "$W/busybox" || fail "cannot unpack $bdeb"
    bz=$W/kernel/boot/vmlinuz-$KREL
    [ -f "$bz" ] || fail "$KPKG has no /boot/vmlinuz-$KREL"
    [ -x "$W/busybox/bin/busybox" ] || fail "busybox-static has no /bin/busybox"

    R=$W/root
    mkdir -p "$R/bin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/tmp" "$R/run" "$R/root"
    cp "$W/busybox/bin/busybox" "$R/bin/busybox"
    ln -s busybox "$R/bin/sh"
    write_init "$R/init" && chmod 755 "$R/init"
    echo "$KREL" >"$R/etc/xvm-kit"
    modinfo=$(py modules "$W/kernel" "$KREL" "$R" "$R/etc/xvm-modules" "$MODS") || exit 1
    cpiosum=$(py cpio "$R" "$W/initramfs.cpio.gz" "$EPOCH") || exit 1
    pvh=$(py vmlinux "$bz" "$W/vmlinux") || exit 1
    cp "$bz" "$W/vmlinuz"
    echo "$KREL" >"$W/VERSION"
    rm -f "$OUT/manifest"   # the kit is incomplete until the manifest is back
    for f in vmlinuz vmlinux initramfs.cpio.gz VERSION; do mv -f "$W/$f" "$OUT/$f"; done
    {
        echo "release: $KREL"
        echo "kernel: $KPKG $KVER sha256:$KSHA"
        echo "busybox: busybox-static $BVER sha256:$BSHA"
        echo "modules: $(echo "$modinfo" | sed -n 1p)"
        echo "modules-not-loaded: $(echo "$modinfo" | sed -n 2p)"
        echo "pvh-entry: $pvh"
        echo "cpio-sha256: $cpiosum (uncompressed)"
        (cd "$OUT" && sha256sum vmlinuz vmlinux initramfs.cpio.gz | awk '{ print "sha256: " $2 " " $1 }')
        echo "source-date-epoch: $EPOCH"
        echo "stamp: $(stamp)"
    } >"$W/manifest"
    mv -f "$W/manifest" "$OUT/manifest"
    say "kit $KREL built in $OUT ($(($(date +%s) - t0)) s)"
}

FORCE=0 REFRESH=0
while [ $# -gt 0 ]; do
    case $1 in
    -h|--help) usage; exit 0 ;;
    --dir) default_dir; exit 0 ;;
    --resolve) resolve; echo "$KPKG=$KVER busybox-static=$BVER"; exit 0 ;;
    --force) FORCE=1 ;;
    --refresh) REFRESH=1 ;;
    --) shift; break ;;
    -*) echo "mkguest: error: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) break ;;
    esac
    shift
done
[ $# -le 1 ] || { echo "mkguest: error: one OUTDIR at most (see --help)" >&2; exit 2; }
DIR=${1:-$(default_dir)}
if [ "$FORCE" = 0 ] && [ "$REFRESH" = 0 ] && kit_complete "$DIR"; then
    say "kit $(cat "$DIR/VERSION") in $DIR is ready (--refresh to check apt for a newer one)"
    exit 0
fi
build "$DIR"
