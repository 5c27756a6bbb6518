# linux_guest.sh - sourced helpers for booting the guest kit's Linux and checking its early log.
#
# POSIX sh + awk only: the same file runs on the host and inside nestlab's busybox L1.
# Functions:
#   lg_check LOG MEM_MIB CPUS CMDLINE   print one line per milestone; return 0 when all are seen
#                                       and right, 1 when one is wrong, 2 while some are missing
#   lg_boot NAME TIMEOUT UNTIL -- VMM-COMMAND...
#                                       start the VMM with its console in $LG_DIR/NAME.log and
#                                       poll; UNTIL=milestones kills it once all are seen,
#                                       UNTIL=exit waits for it to exit. Sets LG_RC (VMM exit
#                                       status, or "killed"), LG_SECS (seconds until all
#                                       milestones / until exit), LG_MILESTONE_SECS.
#                                       Returns 0, or 1 on timeout or a wrong milestone.
#   lg_has_opt XVM OPTION              0 when `XVM run --help` lists --OPTION
# Settings: LG_DIR (where logs go), LG_MEM (MiB), LG_CPUS, LG_CMDLINE (set by the caller).

# lg_check LOG MEM_MIB CPUS CMDLINE: the milestones a 6.1 kernel prints before it needs devices
lg_check() {
    # only complete lines: the VMM may be in the middle of writing the last one
    _nl=$(wc -l <"$1" 2>/dev/null) || _nl=0
    awk -v nl="$_nl" -v mem="$2" -v cpus="$3" -v cmdline="$4" '
    function hex(s,   i, n, c) {
        n = 0; s = tolower(s); sub(/^0x/, "", s)
        for (i = 1; i <= length(s); i++) {
            c = index("0123456789abcdef", substr(s, i, 1)); if (c == 0) break
            n = n * 16 + c - 1
        }
        return n
    }
    function strip(s) { sub(/\r$/, "", s); sub(/^.*\[ *[0-9]+\.[0-9]+\] /, "", s); return s }
    NR > nl { exit }
    { line = strip($0) }
    line ~ /^Command line: / && !cl_seen {
        cl_seen = 1; cl = substr(line, 15); sub(/ +$/, "", cl)
    }
    line ~ /^BIOS-e820: \[mem 0x[0-9a-f]+-0x[0-9a-f]+\]/ {
        in_map = 1
        match(line, /0x[0-9a-f]+-0x[0-9a-f]+/); split(substr(line, RSTART, RLENGTH), a, "-")
        if (line ~ /\] usable$/) {
            s = hex(a[1]); e = hex(a[2]) + 1; usable += e - s; nusable++
            if (e > top) top = e
        }
        next
    }
    in_map { in_map = 0; map_done = 1 }
    line ~ /^Hypervisor detected: / { hv = substr(line, 22) }
    line ~ /^ACPI: RSDP 0x/ { rsdp = 1 }
    line ~ /^ACPI: XSDT 0x/ { xsdt = 1 }
    line ~ /^ACPI: APIC 0x/ { madt = 1 }
    line ~ /^ACPI: Using ACPI \(MADT\) for SMP configuration/ { madt_used = 1 }
    line ~ /Incorrect checksum in table/ { badsum = badsum " [" line "]" }
    line ~ /^smpboot: Allowing [0-9]+ CPUs/ { split(line, a, " "); ncpu = a[3] + 0; cpu_seen = 1 }
    line ~ /^Memory: [0-9]+K\/[0-9]+K available/ {
        split(line, a, /[ \/K]+/); memk = a[3] + 0; mem_seen = 1
    }
    function report(name, state, detail) {
        # "Memory:" comes last: whatever is missing by then will not come
        if (state == "wait" && mem_seen) { state = "FAIL"; detail = detail " before \"Memory:\"" }
        printf "%-4s %-9s %s\n", state, name, detail
        if (state == "FAIL") bad = 1; else if (state == "wait") missing = 1
    }
    END {
        ram = mem * 1048576
        if (!cl_seen) report("cmdline", "wait", "no \"Command line:\"")
        else if (cl != cmdline) report("cmdline", "FAIL", "kernel got \"" cl "\", xvm was given \"" cmdline "\"")
        else report("cmdline", "ok", cl)
        if (!map_done) report("e820", "wait", "no complete BIOS-e820 map")
        else if (usable > ram || usable < ram - 4 * 1048576 || (mem <= 2048 && top > ram))
            report("e820", "FAIL", sprintf("%d usable ranges, %.2f MiB up to %.2f MiB; expected %d MiB",
                nusable, usable / 1048576, top / 1048576, mem))
        else report("e820", "ok", sprintf("%d usable ranges, %.2f MiB of %d MiB", nusable, usable / 1048576, mem))
        if (hv == "") report("kvm", "wait", "no \"Hypervisor detected: KVM\" (needs CPUID.1:ECX bit 31 and leaf 0x40000000)")
        else if (hv != "KVM") report("kvm", "FAIL", "hypervisor detected: " hv)
        else report("kvm", "ok", "Hypervisor detected: KVM")
        if (badsum != "") report("acpi", "FAIL", "bad checksum:" badsum)
        else if (!(rsdp && xsdt && madt && madt_used))
            report("acpi", "wait", sprintf("RSDP %s XSDT %s APIC %s MADT-used %s",
                rsdp ? "yes" : "no", xsdt ? "yes" : "no", madt ? "yes" : "no", madt_used ? "yes" : "no"))
        else report("acpi", "ok", "RSDP, XSDT, APIC (MADT) found, MADT used for SMP")
        if (!cpu_seen) report("cpus", "wait", "no \"smpboot: Allowing N CPUs\"")
        else if (ncpu != cpus) report("cpus", "FAIL", sprintf("kernel allows %d CPUs, expected %d", ncpu, cpus))
        else report("cpus", "ok", sprintf("smpboot: Allowing %d CPUs", ncpu))
        if (!mem_seen) report("memory", "wait", "no \"Memory: .../...K available\"")
        else if (memk > mem * 1024 || memk < mem * 1024 - 8192)
            report("memory", "FAIL", sprintf("kernel counts %dK, expected %dK less a few holes", memk, mem * 1024))
        else report("memory", "ok", sprintf("%dK of %dK", memk, mem * 1024))
        exit bad ? 1 : missing ? 2 : 0
    }' "$1"
}

lg_has_opt() {
    "$1" run --help 2>&1 | grep -q -- "--$2 "
}

# lg_now: seconds since the epoch with 0.01 s resolution (busybox date has no %N)
lg_now() {
    awk '{ printf "%.2f\n", $1 }' /proc/uptime
}

lg_boot() {
    _name=$1 _timeout=$2 _until=$3
    shift 4   # NAME TIMEOUT UNTIL --
    _log=$LG_DIR/$_name.log
    : >"$_log"
    _t0=$(lg_now)
    "$@" >"$LG_DIR/$_name.out" 2>&1 </dev/null &
    _pid=$!
    LG_RC=running LG_SECS=- LG_MILESTONE_SECS=- _state=2
    while :; do
        sleep 0.5
        _t=$(awk -v a="$_t0" -v b="$(lg_now)" 'BEGIN { printf "%.1f", b - a }')
        if [ "$LG_MILESTONE_SECS" = - ]; then
            lg_check "$_log" "$LG_MEM" "$LG_CPUS" "$LG_CMDLINE" >/dev/null
            _state=$?
            [ $_state = 0 ] && LG_MILESTONE_SECS=$_t
            [ $_state = 1 ] && break
        fi
        if [ "$_until" = milestones ] && [ $_state = 0 ]; then LG_SECS=$_t; break; fi
        kill -0 "$_pid" 2>/dev/null || { wait "$_pid"; LG_RC=$?; LG_SECS=$_t; _pid=; break; }
        awk -v t="$_t" -v m="$_timeout" 'BEGIN { exit !(t >= m) }' && { LG_RC=timeout; break; }
    done
    if [ -n "$_pid" ]; then
        kill "$_pid" 2>/dev/null
        _n=0
        while kill -0 "$_pid" 2>/dev/null && [ $_n -lt 20 ]; do sleep 0.1; _n=$((_n + 1)); done
        kill -9 "$_pid" 2>/dev/null
        wait "$_pid" 2>/dev/null
        [ "$LG_RC" = running ] && LG_RC=killed
    fi
    [ "$LG_RC" != timeout ] && [ $_state != 1 ]
}

# lg_nestlab NAME OUT DONE TIMEOUT [nestlab options] -- COMMAND...: run COMMAND in
# ../shared/nestlab (path in $LAB) with its output in OUT. The nested lab (TCG) has been
# seen to stall a whole run once in a few dozen (no output at all): each attempt is bounded
# and one retry follows an attempt whose output lacks the line DONE. Sets LG_NEST_RC;
# returns 125 when the lab could not provide a nested /dev/kvm.
# Callers give Linux guests in the lab `noxsave`: L1 is QEMU's TCG, whose XSAVE state does
# not always match its CPUID, and Linux then WARNs in fpu__init_system_xstate (seen with
# QEMU as the VMM in L1).
lg_nestlab() {
    local name=$1 out=$2 done=$3 tmo=$4 attempt
    shift 4
    for attempt in 1 2; do
        bash "$LAB" --timeout "$tmo" "$@" >"$out" 2>&1
        LG_NEST_RC=$?
        [ $LG_NEST_RC = 125 ] && return 125
        grep -aq "$done" "$out" && return 0
        echo "$name: attempt $attempt ended without a result (nestlab status $LG_NEST_RC)"
        tail -n 5 "$out" | grep -av "TCG doesn't" | sed 's/^/  | /'
    done
    return 0
}

# lg_init2_prologue: the first lines of an /init2 appended to a kit's initramfs (busybox
# applets, /proc, /sys, /dev, the kit's modules), on stdout
lg_init2_prologue() {
    cat <<'INIT'
#!/bin/sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
while read -r ko; do insmod "/lib/modules/$(uname -r)/$ko" 2>/dev/null; done </etc/xvm-modules
INIT
}
