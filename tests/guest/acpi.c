/* acpi.c - find the RSDP, check table checksums, read MADT (CPUs, IOAPIC, overrides), FADT and \_S5; ACPI power-off. */
#include "guest.h"

static inline uint8_t rd8(uint64_t a) { return *(const volatile uint8_t *)(uintptr_t)a; }
static inline uint16_t rd16(uint64_t a) { uint16_t v; memcpy(&v, (const void *)(uintptr_t)a, 2); return v; }
static inline uint32_t rd32(uint64_t a) { uint32_t v; memcpy(&v, (const void *)(uintptr_t)a, 4); return v; }
static inline uint64_t rd64(uint64_t a) { uint64_t v; memcpy(&v, (const void *)(uintptr_t)a, 8); return v; }

/* Tables beyond the 4 GiB identity map (or absurdly large) are not read. */
static bool addr_ok(uint64_t a, uint64_t len)
{
    return a && len < (1u << 24) && a + len <= 0x100000000ull;
}

static uint8_t sum(uint64_t a, uint32_t len)
{
    uint8_t s = 0;

    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + rd8(a + i));
    return s;
}

static bool rsdp_valid(uint64_t a)
{
    if (!addr_ok(a, 36) || memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8) || sum(a, 20))
        return false;
    return rd8(a + 15) < 2 || sum(a, rd32(a + 20) < 36 ? 36 : rd32(a + 20)) == 0;
}

static uint64_t rsdp_scan(uint64_t from, uint64_t len)
{
    for (uint64_t a = from; a + 36 <= from + len; a += 16)
        if (rsdp_valid(a))
            return a;
    return 0;
}

/* Check one SDT; records a bad checksum by signature. Returns its length or 0. */
static uint32_t table_check(struct acpi_info *ai, uint64_t a)
{
    uint32_t len;

    if (!addr_ok(a, 36))
        return 0;
    len = rd32(a + 4);
    if (len < 36 || !addr_ok(a, len))
        return 0;
    if (sum(a, len)) {
        size_t n = strlen(ai->bad);
        ai->bad_checksums++;
        if (n + 5 < sizeof(ai->bad)) {
            if (n)
                ai->bad[n++] = ',';
            memcpy(ai->bad + n, (const void *)(uintptr_t)a, 4);
            ai->bad[n + 4] = 0;
        }
    }
    return len;
}

static void madt_parse(struct acpi_info *ai, uint64_t m, uint32_t len)
{
    ai->lapic_base = rd32(m + 36);
    for (uint64_t p = m + 44; p + 2 <= m + len; p += rd8(p + 1)) {
        uint8_t type = rd8(p), l = rd8(p + 1);
        if (l < 2)
            break;
        if (type == 0 && (rd32(p + 4) & 1) && ai->ncpus < ACPI_MAX_CPUS)
            ai->apic_ids[ai->ncpus++] = rd8(p + 3);
        else if (type == 9 && (rd32(p + 8) & 1) && ai->ncpus < ACPI_MAX_CPUS)
            ai->apic_ids[ai->ncpus++] = rd32(p + 4);
        else if (type == 1 && !ai->ioapic_base)
            ai->ioapic_base = rd32(p + 4);
        else if (type == 2 && rd8(p + 3) == 0) {
            ai->irq0_gsi = (int)rd32(p + 4);
            ai->irq0_override = true;
            ai->irq0_flags = rd16(p + 8);
        } else if (type == 5)
            ai->lapic_base = rd64(p + 4);
    }
}

/* Decode one AML integer constant at a; returns -1 if it is not one. */
static int aml_int(uint64_t a)
{
    switch (rd8(a)) {
    case 0x00: return 0;                 /* ZeroOp */
    case 0x01: return 1;                 /* OneOp */
    case 0x0a: return rd8(a + 1);        /* BytePrefix */
    case 0x0b: return rd16(a + 1);       /* WordPrefix */
    case 0x0c: return (int)(rd32(a + 1) & 0x7fffffff);
    default: return -1;
    }
}

/* Find Name(_S5, Package(){SLP_TYPa, ...}) in the DSDT body. */
static int dsdt_s5(uint64_t d, uint32_t len)
{
    for (uint64_t p = d + 36; p + 8 < d + len; p++) {
        if (memcmp((const void *)(uintptr_t)p, "_S5_", 4) || rd8(p + 4) != 0x12)
            continue;
        uint64_t q = p + 5;
        q += 1 + (rd8(q) >> 6);          /* PkgLength */
        q += 1;                          /* NumElements */
        return aml_int(q);
    }
    return -1;
}

static void fadt_parse(struct acpi_info *ai, uint64_t f, uint32_t len)
{
    uint64_t dsdt = rd32(f + 40);

    if (len >= 148 && rd64(f + 140))
        dsdt = rd64(f + 140);
    ai->pm1a_cnt = rd32(f + 64);
    ai->pm1b_cnt = rd32(f + 68);
    if (len >= 184 && !ai->pm1a_cnt && rd8(f + 172) == 1)
        ai->pm1a_cnt = (uint32_t)rd64(f + 176);
    ai->hw_reduced = len >= 116 && (rd32(f + 112) & (1u << 20));
    if (len >= 256 && rd64(f + 248)) {
        ai->sleep_space = rd8(f + 244);
        ai->sleep_ctl = rd64(f + 248);
    }
    uint32_t dlen = table_check(ai, dsdt);
    if (dlen) {
        ai->dsdt = dsdt;
        ai->slp_typ = dsdt_s5(dsdt, dlen);
    }
}

int acpi_probe(uint64_t rsdp_hint, struct acpi_info *ai)
{
    uint64_t r = 0, root;
    unsigned esz;
    uint32_t len;

    memset(ai, 0, sizeof(*ai));
    ai->slp_typ = -1;
    ai->lapic_base = 0xfee00000;
    if (rsdp_valid(rsdp_hint))
        r = rsdp_hint;
    if (!r)
        r = rsdp_scan((uint64_t)rd16(0x40e) << 4, 1024);
    if (!r)
        r = rsdp_scan(0xe0000, 0x20000);
    if (!r)
        return -1;
    ai->rsdp = r;
    ai->rev = rd8(r + 15);
    root = ai->rev >= 2 && rd64(r + 24) ? rd64(r + 24) : rd32(r + 16);
    esz = ai->rev >= 2 && rd64(r + 24) ? 8 : 4;
    len = table_check(ai, root);
    if (!len)
        return 0;
    ai->xsdt = root;
    ai->ntables = (int)((len - 36) / esz);
    for (int i = 0; i < ai->ntables; i++) {
        uint64_t t = esz == 8 ? rd64(root + 36 + 8 * i) : rd32(root + 36 + 4 * i);
        uint32_t tl = table_check(ai, t);
        if (!tl)
            continue;
        if (!memcmp((const void *)(uintptr_t)t, "APIC", 4)) {
            ai->madt = t;
            madt_parse(ai, t, tl);
        } else if (!memcmp((const void *)(uintptr_t)t, "FACP", 4)) {
            ai->fadt = t;
            fadt_parse(ai, t, tl);
        }
    }
    return 0;
}

void acpi_poweroff(const struct acpi_info *ai)
{
    int typ = ai->slp_typ < 0 ? 0 : ai->slp_typ;

    if (ai->hw_reduced && ai->sleep_ctl) {
        uint8_t v = (uint8_t)(((typ & 7) << 2) | 0x20);   /* SLP_TYP | SLP_EN */
        if (ai->sleep_space == 1)
            outb((uint16_t)ai->sleep_ctl, v);
        else
            *(volatile uint8_t *)(uintptr_t)ai->sleep_ctl = v;
    } else if (ai->pm1a_cnt) {
        uint16_t v = (uint16_t)(((typ & 7) << 10) | (1 << 13));
        outw((uint16_t)ai->pm1a_cnt, v);
        if (ai->pm1b_cnt)
            outw((uint16_t)ai->pm1b_cnt, v);
    }
    delay_cycles(200000000);   /* the VMM may take a moment to stop the vCPUs */
}
