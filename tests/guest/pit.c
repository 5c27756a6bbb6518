/* pit.c - i8254 PIT helpers: TSC calibration against channel 0's counter. */
#include "guest.h"

#define PIT_HZ 1193182u

static uint16_t pit0_count(void)
{
    uint8_t lo, hi;

    outb(0x43, 0x00);            /* latch channel 0 */
    lo = inb(0x40);
    hi = inb(0x40);
    return (uint16_t)(lo | hi << 8);
}

/* Channel 0 (its gate is always on; port 0x61 and channel 2 may be missing,
 * as on QEMU microvm) free-runs in mode 2; its count is sampled every few exits,
 * far inside the 55 ms wrap period. IRQ0 is masked at the IOAPIC/LAPIC meanwhile. */
uint64_t pit_tsc_khz(void)
{
    const uint32_t want = PIT_HZ / 100;     /* 10 ms */
    uint32_t ticks = 0;
    uint16_t prev, cur;
    uint64_t t0, t;

    outb(0x43, 0x34);            /* channel 0, lo/hi, mode 2 */
    outb(0x40, 0);
    outb(0x40, 0);               /* 65536 */
    prev = pit0_count();
    t0 = rdtsc();
    while (ticks < want) {
        cur = pit0_count();
        ticks += (uint16_t)(prev - cur);
        prev = cur;
        if (rdtsc() - t0 > 50000000000ull)
            return 0;
    }
    t = rdtsc() - t0;
    outb(0x43, 0x30);            /* mode 0: one terminal count, then quiet */
    outb(0x40, 0);
    outb(0x40, 0);
    return t * PIT_HZ / ticks / 1000;
}
