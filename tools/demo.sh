#!/bin/sh
# demo.sh - what `make demo` runs: packages, build, guest kit, then boot a demo domain and show it.
#
# usage: tools/demo.sh [--boot-only]   (BUILD=dir selects the build directory, default build)
# --boot-only skips packages, build and kit (XVM_GUEST_KIT must name a built kit): for running
# the boot part somewhere else, e.g. inside ../shared/nestlab/nestlab.sh.
# Installs missing Debian packages when run as root (tools/deps.sh), builds xvm, builds or
# reuses the Linux guest kit (tools/mkguest.sh), then boots it with `xvm run`:
#  - where /dev/kvm is VMX/SVM: Linux to XVM-GUEST-READY and power-off, with its boot milestones;
#  - on a PVM host (kvm_pvm: guest ring 0 is emulated): the project's test guest, then the
#    Linux kernel's early boot up to its last milestone (the kernel cannot get further there).
set -u
cd "$(dirname "$0")/.." || exit 1
SRC=$PWD
BUILD=${BUILD:-build}
XVM=$SRC/$BUILD/xvm
. "$SRC/tests/integration/lib/linux_guest.sh"
. "$SRC/tools/demo_toolstack.sh"

step() { printf '%s\n' "== $*"; }
info() { printf '   %s\n' "$*"; }
die() { echo "xvm: demo: $*" >&2; exit 1; }

BOOT_ONLY=0
case ${1:-} in
--boot-only) BOOT_ONLY=1 ;;
-h|--help) sed -n '3,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
'') ;;
*) die "unknown option $1 (see --help)" ;;
esac

if [ $BOOT_ONLY = 1 ]; then
    KIT=${XVM_GUEST_KIT:-}
    [ -n "$KIT" ] && [ -s "$KIT/vmlinuz" ] || die "--boot-only needs XVM_GUEST_KIT naming a built kit"
else
    step "packages"
    tools/deps.sh || die "missing packages (see above; 'make deps' as root installs them)"
    info "all present"

    step "build"
    if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" >/dev/null || die "meson setup $BUILD failed"
    fi
    ninja -C "$BUILD" >"${TMPDIR:-/tmp}/xvm-demo-build.$$" 2>&1 ||
        { tail -n 20 "${TMPDIR:-/tmp}/xvm-demo-build.$$"; rm -f "${TMPDIR:-/tmp}/xvm-demo-build.$$"; die "build failed"; }
    rm -f "${TMPDIR:-/tmp}/xvm-demo-build.$$"
    info "$BUILD/xvm ($("$XVM" version 2>/dev/null | head -n 1))"

    step "guest kit"
    KIT=${XVM_GUEST_KIT:-$(tools/mkguest.sh --dir)} || die "no directory for the guest kit"
    t0=$(lg_now)
    tools/mkguest.sh "$KIT" 2>"${TMPDIR:-/tmp}/xvm-demo-kit.$$" ||
        { cat "${TMPDIR:-/tmp}/xvm-demo-kit.$$" >&2; rm -f "${TMPDIR:-/tmp}/xvm-demo-kit.$$"; die "guest kit failed"; }
    rm -f "${TMPDIR:-/tmp}/xvm-demo-kit.$$"
    info "Linux $(cat "$KIT/VERSION") + busybox initramfs in $KIT ($(awk -v a="$t0" -v b="$(lg_now)" 'BEGIN { printf "%.1f", b - a }') s)"
fi

[ -c /dev/kvm ] && [ -w /dev/kvm ] || die "no usable /dev/kvm: nothing can boot here"
"$XVM" run --help >/dev/null 2>&1 || die "$BUILD/xvm has no 'run' command yet"
LG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/xvm-demo.XXXXXX") || die "cannot create a temporary directory"
trap 'net_cleanup; rm -rf "$LG_DIR"' EXIT
trap 'exit 130' INT TERM
LG_MEM=512 LG_CPUS=2

# milestones NAME: the early-boot table, indented
milestones() { lg_check "$LG_DIR/$1.log" "$LG_MEM" "$LG_CPUS" "$LG_CMDLINE" | sed 's/^/     /'; }

has() { lg_has_opt "$XVM" "$1"; }

# devices_line WHERE: one line on the disk and network devices
devices_line() {
    d=no
    has disk && d=yes
    case $d$NET in
    no*) info "not there yet: virtio disk (later issue)" ;;
    yesyes) info "$1; the network is a tap in a private network namespace (10.0.2.0/24)" ;;
    *) info "$1; no network: $NET_WHY" ;;
    esac
}

# The demo network: a tap with 10.0.2.2/24 inside a network namespace of its
# own, so the guest reaches the host's end of the tap and nothing else.
# Sets NET=yes and RUN_NS (the command prefix), or NET=no and NET_WHY.
NET=no NET_WHY="" RUN_NS="" NS=xvm-demo-$$
net_setup() {
    if ! has net; then NET_WHY="this xvm has no --net"; return; fi
    if [ "$(id -u)" != 0 ]; then NET_WHY="creating a tap needs root"; return; fi
    if [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null; then
        NET_WHY="no /dev/net/tun or no ip(8)"; return
    fi
    ip netns add "$NS" 2>/dev/null || { NET_WHY="cannot create a network namespace"; return; }
    if ip -n "$NS" tuntap add dev xd0 mode tap &&
        ip -n "$NS" addr add 10.0.2.2/24 dev xd0 && ip -n "$NS" link set xd0 up &&
        ip -n "$NS" link set lo up; then
        NET=yes RUN_NS="ip netns exec $NS"
    else
        NET_WHY="cannot create the demo tap"; ip netns del "$NS" 2>/dev/null
    fi
}
net_cleanup() { if [ "$NET" = yes ]; then ip netns del "$NS" 2>/dev/null; fi; }
# frames the host's end of the tap received from the guest
net_rx() { ip -n "$NS" -s link show xd0 2>/dev/null | awk '/RX:/ { getline; print $2; exit }'; }

if [ -d /sys/module/kvm_pvm ]; then
    step "boot (PVM host)"
    info "this host's /dev/kvm is kvm_pvm (no VMX/SVM): guest ring 0 is emulated and Linux stops early;"
    info "showing the project's test guest, then Linux's early boot"
    ELF=
    for f in "$BUILD"/tests/guest/xvm-testguest.elf build*/tests/guest/xvm-testguest.elf; do
        [ -f "$f" ] && { ELF=$f; break; }
    done
    if [ -z "$ELF" ]; then
        info "test guest: not built (configure with -Dguest=true)"
    else
        set -- --vcpus 2 --memory 64M --name demo-xtest
        if has disk; then
            truncate -s 64M "$LG_DIR/disk.img" || die "cannot create a scratch disk image"
            set -- "$@" --disk "$LG_DIR/disk.img"
        fi
        net_setup
        [ $NET = yes ] && set -- "$@" --net tap=xd0
        info "\$ ${RUN_NS:+$RUN_NS }xvm run --kernel $ELF $*"
        timeout 120 $RUN_NS "$XVM" run --kernel "$ELF" "$@" </dev/null >"$LG_DIR/xtest.out" 2>"$LG_DIR/xtest.err"
        rc=$?
        # the lines a newcomer cares about: platform, devices, failures, the summary
        grep -E '^XTEST (acpi|smp|pci|blk|net) |^XTEST [a-z0-9]+ FAIL|^XTEST-DONE' "$LG_DIR/xtest.out" | sed 's/^/     /'
        [ $NET = yes ] && info "the host's end of the tap received $(net_rx) frame(s) from the guest"
        net_cleanup
        info "xvm exit status $rc ($([ $rc = 0 ] && echo 'guest powered off' || echo 'see above'))"
        toolstack_demo "$ELF" || TS_FAIL=1
    fi
    LG_CMDLINE="console=ttyS0 earlyprintk=serial,ttyS0 noxsave xvm.action=poweroff xvm.demo=$$"
    info "\$ xvm run --kernel $KIT/vmlinux --initrd .../initramfs.cpio.gz --memory 512M --vcpus 2 ..."
    info "Linux early boot (PVH entry): waiting for its milestones, 1-2 minutes here ..."
    lg_boot linux 300 milestones -- "$XVM" run --kernel "$KIT/vmlinux" --initrd "$KIT/initramfs.cpio.gz" \
        --memory 512M --vcpus 2 --name demo-linux --console "file:$LG_DIR/linux.log" --cmdline "$LG_CMDLINE"
    st=$?
    milestones linux
    if [ $st = 0 ]; then
        info "all milestones after $LG_MILESTONE_SECS s; stopped there (the kernel cannot go on under PVM)"
    else
        info "Linux did not reach every milestone (xvm: $LG_RC); last console lines:"
        tail -n 3 "$LG_DIR/linux.log" | sed 's/^/     | /'
    fi
    devices_line "the disk is a 64 MiB scratch file the test guest's blk test writes and reads back"
    info "full Linux boots need VMX/SVM: the test 'linux-boot-full' runs them in ../shared/nestlab when present"
    [ "${TS_FAIL:-0}" = 1 ] && st=1
    exit $st
fi

step "boot"
set -- --memory 512M --vcpus 2 --name demo-linux
LG_CMDLINE="console=ttyS0 panic=-1 xvm.action=poweroff xvm.demo=$$"
if has disk; then
    truncate -s 64M "$LG_DIR/disk.img" || die "cannot create a scratch disk image"
    set -- "$@" --disk "$LG_DIR/disk.img"
    LG_CMDLINE="console=ttyS0 panic=-1 xvm.action=blktest xvm.demo=$$"
fi
net_setup
if [ $NET = yes ]; then
    # the kit's /init does one action: the network test when there is a tap
    set -- "$@" --net tap=xd0
    LG_CMDLINE="console=ttyS0 panic=-1 xvm.action=nettest xvm.ip=10.0.2.15/24 xvm.peer=10.0.2.2 xvm.demo=$$"
fi
info "\$ ${RUN_NS:+$RUN_NS }xvm run --kernel $KIT/vmlinuz --initrd $KIT/initramfs.cpio.gz $*"
info "      --cmdline \"$LG_CMDLINE\""
lg_boot linux 120 exit -- $RUN_NS "$XVM" run --kernel "$KIT/vmlinuz" --initrd "$KIT/initramfs.cpio.gz" "$@" \
    --console "file:$LG_DIR/linux.log" --cmdline "$LG_CMDLINE"
milestones linux
grep -a '^XVM-GUEST-READY\|^xvm-init:\|^XVM-RESULT' "$LG_DIR/linux.log" | tr -d '\r' | sed 's/^/     | /'
devices_line "the disk is a 64 MiB scratch file (xvm.action=blktest writes and reads it back when there is no network)"
net_cleanup
if [ "$LG_RC" = 0 ] && grep -q '^XVM-GUEST-READY' "$LG_DIR/linux.log" &&
    ! grep -q '^XVM-RESULT .* FAIL' "$LG_DIR/linux.log"; then
    info "Linux booted and powered off in $LG_SECS s (xvm exit status 0)"
    info "interactive: $BUILD/xvm run --kernel $KIT/vmlinuz --initrd $KIT/initramfs.cpio.gz --cmdline console=ttyS0"
    [ -f "$BUILD/tests/guest/xvm-testguest.elf" ] || exit 0
    toolstack_demo "$BUILD/tests/guest/xvm-testguest.elf"
    exit $?
fi
info "the Linux demo did not pass (xvm: $LG_RC); last console lines:"
tail -n 5 "$LG_DIR/linux.log" | sed 's/^/     | /'
exit 1
