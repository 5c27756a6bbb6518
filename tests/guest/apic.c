/* apic.c - local APIC and IOAPIC register access (xAPIC MMIO, usable from ring 3). */
#include "guest.h"

#define LAPIC_ID      0x20
#define LAPIC_TPR     0x80
#define LAPIC_EOI     0xb0
#define LAPIC_SVR     0xf0
#define LAPIC_ICR_LO  0x300
#define LAPIC_ICR_HI  0x310
#define LAPIC_LINT0   0x350
#define LAPIC_LINT1   0x360

void lapic_init(uint64_t base)
{
    mmio_write32(base + LAPIC_TPR, 0);
    mmio_write32(base + LAPIC_SVR, 0x100 | VEC_SPURIOUS);   /* software enable */
    mmio_write32(base + LAPIC_LINT0, 0x10000);              /* masked: no 8259 ExtINT */
}

uint32_t lapic_id(uint64_t base)
{
    return mmio_read32(base + LAPIC_ID) >> 24;
}

void lapic_eoi(uint64_t base)
{
    mmio_write32(base + LAPIC_EOI, 0);
}

int lapic_ipi(uint64_t base, uint32_t apic_id, uint32_t icr_lo)
{
    uint64_t t0;

    mmio_write32(base + LAPIC_ICR_HI, apic_id << 24);
    mmio_write32(base + LAPIC_ICR_LO, icr_lo);
    t0 = rdtsc();
    while (mmio_read32(base + LAPIC_ICR_LO) & (1u << 12))   /* delivery pending */
        if (rdtsc() - t0 > 1000000000ull)
            return -1;
    return 0;
}

uint32_t ioapic_read(uint64_t base, uint32_t reg)
{
    mmio_write32(base, reg);          /* IOREGSEL */
    return mmio_read32(base + 0x10);  /* IOWIN */
}

void ioapic_write(uint64_t base, uint32_t reg, uint32_t v)
{
    mmio_write32(base, reg);
    mmio_write32(base + 0x10, v);
}
