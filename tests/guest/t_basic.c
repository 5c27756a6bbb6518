/* t_basic.c - tests: cpuid, acpi, memory, pio, mmio, fault. */
#include "guest.h"

extern uint8_t __image_end[];   /* guest.ld */

static bool printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
    return true;
}

/* cpuid: a sane vendor string; the hypervisor leaf is reported. */
int test_cpuid(struct guest *g)
{
    uint32_t r[4];
    char vendor[13], hv[13];

    cpuid(0, 0, r);
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
    uint32_t max = r[0];
    cpuid(1, 0, r);
    bool hv_bit = r[2] >> 31;
    cpuid(0x40000000, 0, r);
    memcpy(hv, &r[1], 4);
    memcpy(hv + 4, &r[2], 4);
    memcpy(hv + 8, &r[3], 4);
    hv[12] = 0;
    if (!printable(hv, strlen(hv)) || !hv[0] || !hv_bit)
        memcpy(hv, "none", 5);
    xt_note(" vendor=%s max_leaf=0x%x hv=%s hv_max=0x%x", vendor, max, hv, hv_bit ? r[0] : 0);
    return max >= 1 && printable(vendor, 12) ? XT_PASS : XT_FAIL;
}

/* acpi: RSDP found, every table checksums, FADT/DSDT/MADT present, CPUs listed. */
int test_acpi(struct guest *g)
{
    const struct acpi_info *a = g->acpi;

    if (!a->rsdp) {
        xt_note(" reason=no-rsdp");
        return XT_FAIL;
    }
    xt_note(" rsdp=0x%lx rev=%d tables=%d cpus=%d s5=%d ioapic=0x%lx%s", a->rsdp, a->rev,
            a->ntables, a->ncpus, a->slp_typ, a->ioapic_base,
            a->hw_reduced ? " hw_reduced=1" : "");
    if (a->bad_checksums)
        xt_note(" bad_checksum=%s", a->bad);
    if (!a->fadt || !a->dsdt || !a->madt)
        xt_note(" missing=%s%s%s", a->fadt ? "" : "FACP,", a->dsdt ? "" : "DSDT,",
                a->madt ? "" : "APIC");
    return !a->bad_checksums && a->fadt && a->dsdt && a->madt && a->ncpus > 0 ? XT_PASS
                                                                             : XT_FAIL;
}

static bool overlaps(uint64_t a, uint64_t len, uint64_t p)
{
    return p && p >= a && p < a + len;
}

/* memory: RAM from the start_info memmap; a pattern over 4 MiB above the image survives. */
int test_memory(struct guest *g)
{
    const uint64_t len = 4ull << 20;
    uint64_t base = ((uint64_t)(uintptr_t)__image_end + (2 << 20) - 1) & ~((2ull << 20) - 1);
    const struct acpi_info *ai = g->acpi;
    bool ok = false;

    if (!g->nmem) {
        xt_note(" reason=no-memmap");
        return XT_SKIP;
    }
    for (; base < 0x100000000ull - len && !ok; base += len) {
        if (overlaps(base, len, g->start_info) || overlaps(base, len, ai->rsdp) ||
            overlaps(base, len, ai->xsdt))
            continue;
        for (int i = 0; i < g->nmem; i++)
            if (g->mem[i].type == 1 && g->mem[i].addr <= base &&
                base + len <= g->mem[i].addr + g->mem[i].size)
                ok = true;
        if (ok)
            break;
    }
    xt_note(" ram_mib=%lu entries=%d", g->mem_ram_bytes >> 20, g->nmem);
    if (!ok) {
        xt_note(" reason=no-4MiB-free-ram");
        return XT_FAIL;
    }
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)base;
    uint64_t bad = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t x = pass ? ~0ull : 0;
        for (uint64_t i = 0; i < len / 8; i++)
            p[i] = (base + 8 * i) * 0x9e3779b97f4a7c15ull ^ x;
        for (uint64_t i = 0; i < len / 8; i++)
            if (p[i] != ((base + 8 * i) * 0x9e3779b97f4a7c15ull ^ x))
                bad++;
    }
    xt_note(" tested=0x%lx+%luMiB bad_words=%lu", base, len >> 20, bad);
    return g->mem_ram_bytes && !bad ? XT_PASS : XT_FAIL;
}

/* pio: COM1 scratch register write/read-back loop (each access is an exit). */
int test_pio(struct guest *g)
{
    const int n = 64;
    int bad = 0;
    uint64_t t0 = rdtsc();

    for (int i = 0; i < n; i++) {
        uint8_t v = (uint8_t)(i * 37 + 1);
        outb(0x3ff, v);
        if (inb(0x3ff) != v)
            bad++;
    }
    xt_note(" n=%d bad=%d cycles_per_exit=%lu", 2 * n, bad, (rdtsc() - t0) / (2 * n));
    return bad ? XT_FAIL : XT_PASS;
}

/* mmio: IOAPIC version register, and a redirection entry written and read back. */
int test_mmio(struct guest *g)
{
    uint64_t io = g->acpi->ioapic_base ? g->acpi->ioapic_base : 0xfec00000;
    uint32_t ver = ioapic_read(io, 1);
    uint32_t pins = (ver >> 16 & 0xff) + 1;
    uint32_t reg = 0x10 + 2 * (pins - 1), old, got;

    xt_note(" ioapic=0x%lx ver=0x%x pins=%u", io, ver & 0xff, pins);
    if ((ver & 0xff) == 0 || (ver & 0xff) == 0xff || pins < 16 || pins > 240)
        return XT_FAIL;
    old = ioapic_read(io, reg);
    ioapic_write(io, reg, 0x10000 | 0x4e);   /* masked, vector 0x4e */
    got = ioapic_read(io, reg);
    ioapic_write(io, reg, old);
    xt_note(" redir_rw=0x%x", got & 0x1ffff);
    return (got & 0x1ffff) == (0x10000 | 0x4e) ? XT_PASS : XT_FAIL;
}

/* fault (opt-in): a stray ud2 must end the run through the exception path
 * (XTEST-FAULT vec=6, this test FAIL, XTEST-DONE, power-off); never returns. */
int test_fault(struct guest *g)
{
    __asm__ volatile("ud2");
    return XT_FAIL;
}
