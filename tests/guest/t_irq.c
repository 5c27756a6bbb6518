/* t_irq.c - interrupt tests: LAPIC timer (periodic) and PIT IRQ0 routed through the IOAPIC. */
#include "guest.h"

#define TIMEOUT_CYCLES 10000000000ull

/* Enable interrupts and wait until irq_count[idx] reaches want; returns cycles or 0 on timeout. */
static uint64_t wait_irqs(int idx, uint64_t want)
{
    uint64_t start = irq_count[idx], t0 = rdtsc(), t;

    irq_enable();
    while (irq_count[idx] - start < want) {
        if (rdtsc() - t0 > TIMEOUT_CYCLES) {
            irq_disable();
            return 0;
        }
        cpu_relax();
    }
    t = rdtsc() - t0;
    irq_disable();
    return t ? t : 1;
}

/* timer: LAPIC timer in periodic mode delivers ticks. */
int test_timer(struct guest *g)
{
    uint64_t lapic = g->acpi->lapic_base, cyc;
    const uint64_t want = 10;

    if (!g->acpi->rsdp) {
        xt_note(" reason=no-acpi");
        return XT_SKIP;
    }
    mmio_write32(lapic + 0x3e0, 0x3);                       /* divide by 16 */
    mmio_write32(lapic + 0x320, VEC_TIMER | (1u << 17));    /* periodic */
    mmio_write32(lapic + 0x380, 62500);                     /* ~1 ms on KVM's 1 GHz bus */
    cyc = wait_irqs(VEC_TIMER - VEC_IRQ_BASE, want);
    mmio_write32(lapic + 0x320, 0x10000);                   /* masked */
    mmio_write32(lapic + 0x380, 0);
    if (!cyc) {
        xt_note(" ticks=%lu reason=timeout", irq_count[VEC_TIMER - VEC_IRQ_BASE]);
        return XT_FAIL;
    }
    xt_note(" ticks=%lu cycles_per_tick=%lu", want, cyc / want);
    if (g->tsc_khz)
        xt_note(" us_per_tick=%lu", cyc * 1000 / g->tsc_khz / want);
    return XT_PASS;
}

/* irq: PIT channel 0 at ~1 kHz, IRQ0 routed (MADT override honoured) to the BSP. */
int test_irq(struct guest *g)
{
    const struct acpi_info *a = g->acpi;
    uint64_t io = a->ioapic_base, cyc;
    uint32_t reg = 0x10 + 2 * (uint32_t)a->irq0_gsi, lo = VEC_IOAPIC;
    const uint16_t div = 1193;   /* 1.193182 MHz / 1193 = 1 kHz */
    const uint64_t want = 5;

    if (!a->rsdp || !io) {
        xt_note(" reason=no-ioapic");
        return XT_SKIP;
    }
    outb(0x21, 0xff);            /* 8259s fully masked: IOAPIC only */
    outb(0xa1, 0xff);
    if ((a->irq0_flags & 3) == 3)
        lo |= 1u << 13;          /* active low */
    if ((a->irq0_flags >> 2 & 3) == 3)
        lo |= 1u << 15;          /* level */
    ioapic_write(io, reg + 1, lapic_id(a->lapic_base) << 24);
    ioapic_write(io, reg, lo);
    outb(0x43, 0x34);            /* channel 0, lo/hi byte, mode 2 (rate generator) */
    outb(0x40, div & 0xff);
    outb(0x40, div >> 8);
    cyc = wait_irqs(VEC_IOAPIC - VEC_IRQ_BASE, want);
    ioapic_write(io, reg, lo | 0x10000);
    outb(0x43, 0x30);            /* mode 0, leave it idle */
    outb(0x40, 0);
    outb(0x40, 0);
    xt_note(" gsi=%d", a->irq0_gsi);
    if (!cyc) {
        xt_note(" irqs=%lu reason=timeout", irq_count[VEC_IOAPIC - VEC_IRQ_BASE]);
        return XT_FAIL;
    }
    xt_note(" irqs=%lu cycles_per_irq=%lu", want, cyc / want);
    return XT_PASS;
}
