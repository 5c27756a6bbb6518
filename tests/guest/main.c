/* main.c - ring-3 main of the test guest: start_info, command line, test table, benchmarks, XTEST protocol, power-off. */
#include "guest.h"

#include <xen/arch-x86/hvm/start_info.h>

/* The test table: add a test by writing int test_x(struct guest *) in a
 * t_*.c file, declaring it in guest.h and adding a line here. Tests marked
 * opt_in run only when named in tests=. */
static const struct {
    const char *name;
    int (*fn)(struct guest *g);
    bool opt_in;
} tests[] = {
    { "cpuid", test_cpuid, false },
    { "acpi", test_acpi, false },
    { "memory", test_memory, false },
    { "pio", test_pio, false },
    { "mmio", test_mmio, false },
    { "timer", test_timer, false },
    { "irq", test_irq, false },
    { "smp", test_smp, false },
    { "pci", test_pci, false },
    { "blk", test_blk, false },
    { "rng", test_rng, false },
    { "net", test_net, false },
    { "console", test_console, false },
    { "fault", test_fault, true },   /* checks the exception path itself */
    { "blkbench", test_blkbench, true },
    { "blkhostile", test_blkhostile, true },
    { "netbench", test_netbench, true },
    { "hotplug", test_hotplug, true },    /* t_hotplug.c: needs a host that plugs */
    { "crash", test_crash, true },        /* t_crash.c: these end the machine */
    { "reset", test_reset, true },
    { "triplefault", test_triplefault, true },
    { "serve", test_serve, true },        /* t_serve.c: runs until stopped */
};

/* Run state. Globals because the ring-0 fault path (xt_fault) must report
 * the running test and the counts; only the bootstrap CPU writes them. */
static struct {
    const char *current;
    int passed, failed, skipped;
    char note[192];
    size_t note_len;
} run;
static struct guest the_guest;
static struct acpi_info the_acpi;
struct guest *guest_state = &the_guest;

#define MAX_BENCH 4
struct cmdline {
    const char *tests;       /* comma list from tests=, NULL = all */
    size_t tests_len;
    int nbench;
    struct { bool mmio; uint64_t n; } bench[MAX_BENCH];
};

void xt_note(const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof(run.note) - run.note_len;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(run.note + run.note_len, room, fmt, ap);
    va_end(ap);
    run.note_len += (size_t)n < room ? (size_t)n : room - 1;
}

static void done_line(int extra_failed)
{
    kprintf("XTEST-DONE passed=%d failed=%d skipped=%d\n", run.passed,
            run.failed + extra_failed, run.skipped);
}

/* Power off; if the machine is still running, make sure the VMM ends anyway. */
static void __attribute__((noreturn)) finish(void)
{
    uint16_t cs;

    if (the_acpi.rsdp)
        acpi_poweroff(&the_acpi);
    kprintf("XTEST-POWEROFF-FAILED\n");
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    if ((cs & 3) == 3) {
        sys_call(SYS_DROP_IDT, 0);
        __asm__ volatile("int3");        /* no IDT: #GP, #DF, triple fault */
    } else {
        struct { uint16_t l; uint64_t b; } __attribute__((packed)) none = { 0, 0 };
        __asm__ volatile("lidt %0; ud2" : : "m"(none));
    }
    for (;;)
        cpu_relax();
}

void xt_fault(const struct trapframe *tf)
{
    uint64_t cr2;

    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    kprintf("XTEST-FAULT vec=%lu err=0x%lx rip=0x%lx cs=0x%lx rsp=0x%lx cr2=0x%lx\n",
            tf->vec, tf->err, tf->rip, tf->cs, tf->rsp, cr2);
    kprintf("XTEST %s FAIL fault vec=%lu rip=0x%lx\n", run.current ? run.current : "boot",
            tf->vec, tf->rip);
    done_line(1);
    finish();
}

static void run_test(struct guest *g, const char *name, size_t len)
{
    static const char *const verdict[] = { "PASS", "FAIL", "SKIP" };
    char nm[32];
    int r = -1;

    memcpy(nm, name, len < sizeof(nm) ? len : sizeof(nm) - 1);
    nm[len < sizeof(nm) ? len : sizeof(nm) - 1] = 0;

    run.note_len = 0;
    run.note[0] = 0;
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        if (strlen(tests[i].name) == len && !strncmp(tests[i].name, name, len)) {
            run.current = tests[i].name;
            r = tests[i].fn(g);
            break;
        }
    }
    irq_disable();
    if (r < 0) {
        r = XT_SKIP;
        xt_note(" reason=unknown-test");
    }
    if (r == XT_PASS)
        run.passed++;
    else if (r == XT_FAIL)
        run.failed++;
    else
        run.skipped++;
    if (!g->quiet || r == XT_FAIL)
        kprintf("XTEST %s %s%s\n", nm, verdict[r], run.note);
    run.current = NULL;
}

uint64_t guest_arg(struct guest *g, const char *key, uint64_t def)
{
    const struct hvm_start_info *si = (const void *)(uintptr_t)g->start_info;
    const char *s = si && si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
    size_t kl = strlen(key);
    uint64_t v;

    for (const char *p = s; *p; p++) {
        if ((p == s || p[-1] == ' ') && !strncmp(p, key, kl)) {
            size_t n = 0;
            while (p[kl + n] && p[kl + n] != ' ')
                n++;
            if (parse_u64(p + kl, n, &v) == 0)
                return v;
        }
    }
    return def;
}

static void run_bench(struct guest *g, bool mmio, uint64_t n)
{
    uint64_t t0 = rdtsc(), cyc;

    if (mmio)
        for (uint64_t i = 0; i < n; i++)
            (void)mmio_read32(0xd0000000);   /* unbacked hole: every read exits */
    else
        for (uint64_t i = 0; i < n; i++)
            outb(0x80, 0);
    cyc = rdtsc() - t0;
    kprintf("XBENCH %s n=%lu cycles=%lu cycles_per_op=%lu", mmio ? "mmio" : "pio", n, cyc,
            n ? cyc / n : 0);
    if (guest_tsc_khz(g) && n)
        kprintf(" ns_per_op=%lu tsc_khz=%lu", cyc * 1000000 / g->tsc_khz / n, g->tsc_khz);
    kprintf("\n");
}

static void parse_word(struct guest *g, struct cmdline *c, const char *w, size_t len)
{
    if (len == 5 && !strncmp(w, "quiet", 5)) {
        g->quiet = true;
    } else if (len > 6 && !strncmp(w, "tests=", 6)) {
        c->tests = w + 6;
        c->tests_len = len - 6;
    } else if (len > 6 && !strncmp(w, "bench=", 6) && c->nbench < MAX_BENCH) {
        const char *k = w + 6;
        size_t kl = len - 6;
        uint64_t n;
        if (kl > 4 && !strncmp(k, "pio:", 4) && !parse_u64(k + 4, kl - 4, &n))
            c->bench[c->nbench++] = (typeof(c->bench[0])){ false, n };
        else if (kl > 5 && !strncmp(k, "mmio:", 5) && !parse_u64(k + 5, kl - 5, &n))
            c->bench[c->nbench++] = (typeof(c->bench[0])){ true, n };
    }
    /* anything else is ignored */
}

static void parse_cmdline(struct guest *g, struct cmdline *c, const char *s)
{
    while (*s) {
        size_t len = 0;
        while (*s == ' ' || *s == '\t' || *s == '\n')
            s++;
        while (s[len] && s[len] != ' ' && s[len] != '\t' && s[len] != '\n')
            len++;
        if (len)
            parse_word(g, c, s, len);
        s += len;
    }
}

/* Does [a, a+len) overlap the page at p? */
static bool hits(uint64_t a, uint64_t len, uint64_t p)
{
    return a && a < p + 4096 && p < a + len;
}

/* A free low page for the AP trampoline: RAM, and not holding boot data. */
static uint64_t pick_trampoline(struct guest *g, const struct hvm_start_info *si)
{
    for (uint64_t p = TRAMP_DEFAULT; p < 0x9f000; p += 4096) {
        bool ram = g->nmem == 0, busy;
        for (int i = 0; i < g->nmem; i++)
            if (g->mem[i].type == XEN_HVM_MEMMAP_TYPE_RAM && g->mem[i].addr <= p &&
                p + 4096 <= g->mem[i].addr + g->mem[i].size)
                ram = true;
        busy = hits(g->start_info, sizeof(*si), p) || hits(si->cmdline_paddr, 4096, p) ||
               hits(si->rsdp_paddr, 36, p) ||
               hits(si->memmap_paddr, 24ull * si->memmap_entries, p);
        if (ram && !busy)
            return p;
    }
    return TRAMP_DEFAULT;
}

static void read_start_info(struct guest *g, struct cmdline *c, uint64_t addr)
{
    static char cmd[1024];
    const struct hvm_start_info *si = (const void *)(uintptr_t)addr;

    g->start_info = addr;
    if (!addr || si->magic != XEN_HVM_START_MAGIC_VALUE) {
        kprintf("XTEST-WARN bad start_info at 0x%lx\n", addr);
        return;
    }
    if (si->cmdline_paddr) {
        const char *s = (const char *)(uintptr_t)si->cmdline_paddr;
        size_t n = 0;
        while (n < sizeof(cmd) - 1 && s[n])
            n++;
        memcpy(cmd, s, n);
        cmd[n] = 0;
        parse_cmdline(g, c, cmd);
    }
    if (si->version >= 1 && si->memmap_paddr) {
        const struct hvm_memmap_table_entry *e = (const void *)(uintptr_t)si->memmap_paddr;
        for (int i = 0; i < (int)si->memmap_entries && g->nmem < 32; i++, g->nmem++) {
            g->mem[g->nmem].addr = e[i].addr;
            g->mem[g->nmem].size = e[i].size;
            g->mem[g->nmem].type = e[i].type;
            if (e[i].type == XEN_HVM_MEMMAP_TYPE_RAM)
                g->mem_ram_bytes += e[i].size;
        }
    }
    g->tramp_base = pick_trampoline(g, si);
    if (acpi_probe(si->rsdp_paddr, &the_acpi) == 0)
        g->acpi = &the_acpi;
}

/* TSC kHz from CPUID (hypervisor leaf 0x40000010, else leaf 0x15), or 0. */
static uint64_t cpuid_tsc_khz(void)
{
    uint32_t r[4];

    cpuid(0x40000000, 0, r);
    if (r[0] >= 0x40000010) {
        cpuid(0x40000010, 0, r);
        if (r[0])
            return r[0];
    }
    cpuid(0, 0, r);
    if (r[0] >= 0x15) {
        cpuid(0x15, 0, r);
        if (r[0] && r[1] && r[2])
            return (uint64_t)r[2] * r[1] / r[0] / 1000;
    }
    return 0;
}

uint64_t guest_tsc_khz(struct guest *g)
{
    if (!g->tsc_khz)
        g->tsc_khz = cpuid_tsc_khz();
    if (!g->tsc_khz)
        g->tsc_khz = pit_tsc_khz();
    return g->tsc_khz;
}

/* XTEST-TIME: cycles from the guest's first instruction to now (the run as
 * the guest sees it, without VMM start-up and teardown). */
static void time_line(struct guest *g)
{
    extern uint64_t boot_entry_tsc;   /* entry.S */
    uint64_t cyc = rdtsc() - boot_entry_tsc;

    kprintf("XTEST-TIME run_cycles=%lu", cyc);
    if (g->tsc_khz)
        kprintf(" run_us=%lu", cyc * 1000 / g->tsc_khz);
    kprintf("\n");
}

/* Bootstrap CPU in ring 3 (IOPL=3, interrupts off). */
void user_main(uint64_t start_info)
{
    struct guest *g = &the_guest;
    struct cmdline c = { 0 };
    static struct acpi_info none;

    con_init();
    kprintf("TEST-BOOT\n");    /* ring 0 already sent the 'X' */
    g->acpi = &none;
    g->tramp_base = TRAMP_DEFAULT;
    read_start_info(g, &c, start_info);
    if (g->acpi->rsdp) {
        lapic_eoi_base = g->acpi->lapic_base;
        lapic_init(g->acpi->lapic_base);
    }
    if (c.tests) {
        const char *s = c.tests, *end = c.tests + c.tests_len;
        while (s < end) {
            const char *e = s;
            while (e < end && *e != ',')
                e++;
            if (e > s)
                run_test(g, s, (size_t)(e - s));
            s = e + 1;
        }
    } else if (!c.nbench) {
        for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
            if (!tests[i].opt_in)
                run_test(g, tests[i].name, strlen(tests[i].name));
    }
    for (int i = 0; i < c.nbench; i++)
        run_bench(g, c.bench[i].mmio, c.bench[i].n);
    if (!g->quiet)
        time_line(g);
    done_line(0);
    finish();
}
