# demo_toolstack.sh - sourced by demo.sh: the same test guest as a domain of xvmd,
# driven with the xl verbs (create, list, top, pause, unpause, shutdown -w).
# Needs: $XVM, $BUILD, $LG_DIR, step(), info(). Returns non-zero when a step fails.

toolstack_demo() {
    elf=$(realpath "$1")
    xvmd=$(dirname "$XVM")/xvmd
    [ -x "$xvmd" ] || { info "toolstack: $BUILD/xvmd not built; skipped"; return 0; }
    step "toolstack (xvmd and the xl verbs)"
    XVM_RUNDIR=$LG_DIR/run XVM_STORE_SOCKET=$LG_DIR/store.sock XVMD_SOCKET=$LG_DIR/run/xvmd.sock
    export XVM_RUNDIR XVM_STORE_SOCKET XVMD_SOCKET
    mkdir -p "$XVM_RUNDIR"
    "$xvmd" --socket "$XVMD_SOCKET" >"$LG_DIR/xvmd.out" 2>&1 &
    ts_pid=$!
    i=0
    while [ ! -S "$XVMD_SOCKET" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    truncate -s 16M "$LG_DIR/ts-disk.raw"
    cat >"$LG_DIR/demo.cfg" <<CFG
# the test guest in serve mode: a console tick every 100 ms, a disk read per tick
name = "demo"
kernel = "$elf"
memory = 64
vcpus = 1
extra = "tests=serve serve.blk=1"
disk = [ "$LG_DIR/ts-disk.raw,raw,xvda,w" ]
on_poweroff = "destroy"
CFG
    ok=1
    info "\$ xvmd &    # the daemon; it starts xvmstored itself"
    info "\$ xvm create demo.cfg"
    "$XVM" create "$LG_DIR/demo.cfg" 2>&1 | sed 's/^/     /'
    "$XVM" list demo >/dev/null 2>&1 || ok=0
    sleep 1
    info "\$ xvm list"
    "$XVM" list 2>&1 | sed 's/^/     /'
    info "\$ xvm top -b -i 2 -d 1    # xentop's batch format; CPU(%) and VBD_RD move"
    "$XVM" top -b -i 2 -d 1 2>&1 | tail -n 2 | sed 's/^/     /'
    info "\$ xvm pause demo; xvm list demo; xvm unpause demo"
    "$XVM" pause demo && "$XVM" list demo | sed -n '2s/^/     /p' && "$XVM" unpause demo || ok=0
    info "\$ xvm store read /local/domain/1/name /local/domain/1/vm    # Xen's store layout"
    "$XVM" store --socket "$XVM_STORE_SOCKET" read /local/domain/1/name /local/domain/1/vm 2>&1 |
        sed 's/^/     /'
    info "\$ xvm store ls /local/domain/0/backend/vbd/1    # the disk's backend"
    "$XVM" store --socket "$XVM_STORE_SOCKET" ls /local/domain/0/backend/vbd/1 2>/dev/null |
        grep -E '^ *[0-9]+ =|params|type =|mode|  state|hotplug-status' | head -n 6 | sed 's/^/     /'
    info "\$ xvm shutdown -w demo    # the ACPI power button; the guest powers off"
    "$XVM" shutdown -w -t 20 demo 2>&1 | sed 's/^/     /'
    "$XVM" list demo >/dev/null 2>&1 && ok=0
    kill "$ts_pid" 2>/dev/null
    wait "$ts_pid" 2>/dev/null
    [ -f "$XVM_RUNDIR/xvmstored.pid" ] && kill "$(cat "$XVM_RUNDIR/xvmstored.pid")" 2>/dev/null
    unset XVM_RUNDIR XVM_STORE_SOCKET XVMD_SOCKET
    if [ $ok = 1 ]; then
        info "the domain was created, listed, paused, resumed and shut down through xvmd"
        return 0
    fi
    info "the toolstack demo did not pass; xvmd's log:"
    tail -n 5 "$LG_DIR/xvmd.out" | sed 's/^/     | /'
    return 1
}
