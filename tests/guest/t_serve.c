/* t_serve.c - opt-in "serve" mode: a long-running guest for control-socket and
 * toolstack tests. Prints "XTEST-TICK n" every ~100 ms of TSC time and polls
 * the ACPI PM1a status register; on the fixed power button (PWRBTN_STS) it
 * prints "XTEST-PWRBTN" and powers off through S5.
 *
 * Command-line options: serve.ms=N tick period (default 100), serve.ticks=N
 * stop after N ticks (default 0: run until stopped), serve.blk=1 read one
 * 4 KiB block from the first virtio-blk disk every tick (the tick line then
 * shows io=<reads done>), so the host's disk counters move (needs 48 MiB
 * of RAM; uses RAM at 40 MiB). Between events the CPU sleeps (hlt in ring 0,
 * woken by a 10 ms LAPIC timer) so an idle domain costs the host next to
 * nothing; serve.idle=0 busy-waits instead. */
#include "virtio.h"

#define PM1_PWRBTN_STS 0x0100
#define FADT_PM1A_EVT 56          /* 32-bit port of the PM1a event block */
#define FADT_X_PM1A_EVT 148       /* its 12-byte GAS (space id, ..., address) */
#define SERVE_MEM 0x2800000ULL    /* 40 MiB (clear of the other tests): rings, header, data */
#define SERVE_HDR (SERVE_MEM + 0x4000)
#define SERVE_DATA (SERVE_MEM + 0x5000)

struct serve_blk { uint32_t type, reserved; uint64_t sector; };

static struct vdev sblk;
static uint64_t sblk_sectors;

/* The PM1a event block port from the FADT, 0 when there is none. */
static uint16_t pm1a_evt_port(const struct guest *g)
{
    uint64_t f = g->acpi->fadt;
    uint32_t port, len;

    if (!f)
        return 0;
    memcpy(&len, (const void *)(uintptr_t)(f + 4), 4);
    memcpy(&port, (const void *)(uintptr_t)(f + FADT_PM1A_EVT), 4);
    if (!port && len >= FADT_X_PM1A_EVT + 12 &&
        *(const volatile uint8_t *)(uintptr_t)(f + FADT_X_PM1A_EVT) == 1)
        memcpy(&port, (const void *)(uintptr_t)(f + FADT_X_PM1A_EVT + 4), 4);
    return port <= 0xfffc ? (uint16_t)port : 0;
}

static bool serve_blk_open(struct guest *g)
{
    int bdf = virtio_find(0x1042, 0);

    if (bdf < 0 || g->mem_ram_bytes < 48ULL << 20 ||
        virtio_init(&sblk, (uint32_t)bdf, 0, SERVE_MEM) < 0)
        return false;
    sblk_sectors = virtio_cfg32(&sblk, 0) | (uint64_t)virtio_cfg32(&sblk, 4) << 32;
    return sblk_sectors >= 8;
}

/* One synchronous 4 KiB read at block n (wrapping over the disk). */
static bool serve_blk_read(uint64_t n)
{
    struct serve_blk *h = (void *)(uintptr_t)SERVE_HDR;
    volatile uint8_t *st = (void *)(uintptr_t)(SERVE_HDR + 16);
    uint64_t t0 = rdtsc();
    int id;

    *h = (struct serve_blk){ 0, 0, (n * 8) % (sblk_sectors - 7) };
    *st = 0xff;
    sblk.desc[0] = (struct vring_desc){ SERVE_HDR, 16, VRING_DESC_F_NEXT, 1 };
    sblk.desc[1] = (struct vring_desc){ SERVE_DATA, 4096, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2 };
    sblk.desc[2] = (struct vring_desc){ SERVE_HDR + 16, 1, VRING_DESC_F_WRITE, 0 };
    virtio_submit(&sblk, 0);
    while ((id = virtio_poll(&sblk, NULL)) < 0) {
        if (rdtsc() - t0 > 10000000000ULL)
            return false;
        cpu_relax();
    }
    return *st == 0;
}

/* LAPIC timer: periodic wake-ups every ~10 ms (KVM's 1 GHz bus, divide by 16),
 * or off. */
static bool serve_timer(const struct guest *g, bool on)
{
    uint64_t lapic = g->acpi ? g->acpi->lapic_base : 0;

    if (!lapic)
        return false;
    if (on) {
        mmio_write32(lapic + 0x3e0, 0x3);
        mmio_write32(lapic + 0x320, VEC_TIMER | (1u << 17));
        mmio_write32(lapic + 0x380, 625000);
    } else {
        mmio_write32(lapic + 0x320, 0x10000);
        mmio_write32(lapic + 0x380, 0);
    }
    return true;
}

int test_serve(struct guest *g)
{
    uint64_t khz = guest_tsc_khz(g) ? g->tsc_khz : 2000000;
    uint64_t period = khz * guest_arg(g, "serve.ms=", 100);
    uint64_t poll = khz, max = guest_arg(g, "serve.ticks=", 0);   /* poll every ~1 ms */
    uint16_t evt = pm1a_evt_port(g);
    bool blk = guest_arg(g, "serve.blk=", 0) && serve_blk_open(g);
    uint64_t next = rdtsc() + period, next_poll = rdtsc(), ticks = 0, reads = 0;
    bool idle = guest_arg(g, "serve.idle=", 1) && serve_timer(g, true);

    kprintf("XTEST-SERVE pm1a_evt=0x%x tsc_khz=%lu blk=%d idle=%d\n", evt, khz, blk, idle);
    for (;;) {
        uint64_t now = rdtsc();

        if (evt && now >= next_poll) {
            next_poll = now + poll;
            if (inl(evt) & PM1_PWRBTN_STS) {
                outw(evt, PM1_PWRBTN_STS);         /* write 1 to clear */
                kprintf("XTEST-PWRBTN ticks=%lu\n", ticks);
                if (idle)
                    serve_timer(g, false);
                acpi_poweroff(g->acpi);
                xt_note(" reason=poweroff-failed");
                return XT_FAIL;
            }
        }
        if (now < next) {
            if (idle)
                sys_call(SYS_IDLE, 0);
            else
                cpu_relax();
            continue;
        }
        next = now + period;   /* after a pause: one tick, no catching up */
        ticks++;
        if (blk && serve_blk_read(ticks))
            reads++;
        if (blk)
            kprintf("XTEST-TICK %lu io=%lu\n", ticks, reads);
        else
            kprintf("XTEST-TICK %lu\n", ticks);
        if (max && ticks >= max)
            break;
    }
    if (idle)
        serve_timer(g, false);
    xt_note(" ticks=%lu io=%lu", ticks, reads);
    return XT_PASS;
}
