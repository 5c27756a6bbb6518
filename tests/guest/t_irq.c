/* t_irq.c - interrupt tests: LAPIC timer (periodic) and PIT IRQ0 routed through the IOAPIC. */
#include "guest.h"

#define TIMEOUT_CYCLES 5000000000ull   /* ~2 s at 2.5 GHz; ticks are 1 ms */

static uint64_t count2(int a, int b)
{
    return irq_count[a] + (b >= 0 ? irq_count[b] : 0);
}

/* Enable interrupts until irq_count[a] (+ irq_count[b] if b >= 0) grows by
 * want; returns the cycles taken, or 0 on timeout. */
static uint64_t wait_irqs(int a, int b, uint64_t want)
{
    uint64_t start = count2(a, b), t0 = rdtsc(), t;

    irq_enable();
    while (count2(a, b) - start < want) {
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

/* Is an average period of cyc/n TSC cycles within [0.25 ms, 20 ms] of a 1 ms
 * source? Loose on purpose (loaded hosts delay interrupts), tight enough to
 * catch a wrong divider. Notes us_per_<what>; true if the TSC rate is unknown. */
static bool period_ok(struct guest *g, uint64_t cyc, uint64_t n, const char *what)
{
    uint64_t us;

    if (!guest_tsc_khz(g) || !n)
        return true;
    us = cyc * 1000 / g->tsc_khz / n;
    xt_note(" us_per_%s=%lu tsc_khz=%lu", what, us, g->tsc_khz);
    return us >= 250 && us <= 20000;
}

/* timer: LAPIC timer in periodic mode delivers ticks, about 1 ms apart. */
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
    cyc = wait_irqs(VEC_TIMER - VEC_IRQ_BASE, -1, want);
    mmio_write32(lapic + 0x320, 0x10000);                   /* masked */
    mmio_write32(lapic + 0x380, 0);
    if (!cyc) {
        xt_note(" ticks=%lu reason=timeout", irq_count[VEC_TIMER - VEC_IRQ_BASE]);
        return XT_FAIL;
    }
    xt_note(" ticks=%lu cycles_per_tick=%lu", want, cyc / want);
    return period_ok(g, cyc, want, "tick") ? XT_PASS : XT_FAIL;
}

static void route(uint64_t io, uint32_t pin, uint32_t lo, uint32_t apic_id)
{
    ioapic_write(io, 0x10 + 2 * pin + 1, apic_id << 24);
    ioapic_write(io, 0x10 + 2 * pin, lo);
}

static void pit_start(void)
{
    const uint16_t div = 1193;   /* 1.193182 MHz / 1193 = 1 kHz */

    outb(0x43, 0x34);            /* channel 0, lo/hi byte, mode 2 (rate generator) */
    outb(0x40, div & 0xff);
    outb(0x40, div >> 8);
}

static void pit_stop(void)
{
    outb(0x43, 0x30);            /* mode 0: one terminal count, then idle */
    outb(0x40, 0);
    outb(0x40, 0);
}

/* After a failure: which pin does IRQ0 really arrive on? Notes irq0_seen=. */
static void diagnose(uint64_t io, uint32_t id)
{
    const int i0 = VEC_IOAPIC_ALT - VEC_IRQ_BASE, i2 = VEC_IOAPIC_PIN2 - VEC_IRQ_BASE;
    uint64_t n0 = irq_count[i0], n2 = irq_count[i2];

    route(io, 0, VEC_IOAPIC_ALT, id);
    route(io, 2, VEC_IOAPIC_PIN2, id);
    pit_start();
    wait_irqs(i0, i2, 3);
    route(io, 0, VEC_IOAPIC_ALT | 0x10000, id);
    route(io, 2, VEC_IOAPIC_PIN2 | 0x10000, id);
    pit_stop();
    n0 = irq_count[i0] - n0;
    n2 = irq_count[i2] - n2;
    xt_note(" irq0_seen=%s", n0 ? "pin0" : n2 ? "pin2" : "none");
}

/* irq: PIT channel 0 at ~1 kHz, IRQ0 routed through the IOAPIC to the BSP. The
 * MADT override is honoured; without one, pin 2 is armed as well (PC wiring:
 * QEMU routes the PIT there without telling the MADT). */
int test_irq(struct guest *g)
{
    const struct acpi_info *a = g->acpi;
    uint64_t io = a->ioapic_base, cyc;
    uint32_t lo = VEC_IOAPIC, id = lapic_id(a->lapic_base), pin = (uint32_t)a->irq0_gsi;
    bool alt = !a->irq0_override && pin != 2;
    const int ia = VEC_IOAPIC - VEC_IRQ_BASE, ib = VEC_IOAPIC_PIN2 - VEC_IRQ_BASE;
    uint64_t na = irq_count[ia], nb = irq_count[ib];

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
    route(io, pin, lo, id);
    if (alt)
        route(io, 2, VEC_IOAPIC_PIN2, id);
    pit_start();
    cyc = wait_irqs(ia, alt ? ib : -1, 5);
    route(io, pin, lo | 0x10000, id);
    if (alt)
        route(io, 2, VEC_IOAPIC_PIN2 | 0x10000, id);
    pit_stop();
    na = irq_count[ia] - na;
    nb = irq_count[ib] - nb;
    xt_note(" gsi=%u override=%d irqs_gsi=%lu irqs_pin2=%lu", pin, a->irq0_override, na, nb);
    if (!cyc) {
        xt_note(" reason=timeout");
        diagnose(io, id);
        return XT_FAIL;
    }
    xt_note(" cycles_per_irq=%lu", cyc / (na + nb));
    return period_ok(g, cyc, na + nb, "irq") ? XT_PASS : XT_FAIL;
}
