/* t_blk.c - the virtio-blk driver tests: functional (write/read-back, flush, get-id,
 * read-only, bounds, write-zeroes, MSI-X interrupt) and the opt-in blkbench. */
#include "virtio.h"

#define BLK_T_IN 0
#define BLK_T_OUT 1
#define BLK_T_FLUSH 4
#define BLK_T_GET_ID 8
#define BLK_T_WRITE_ZEROES 13
#define F_RO 5
#define F_FLUSH 9
#define F_WZ 14
#define MEM_BASE 0x1000000ULL            /* 16 MiB: rings, headers, data */
#define HDR_BASE (MEM_BASE + 0x4000)      /* 16-byte header + status per slot */
#define DATA_BASE (MEM_BASE + 0x10000)
#define MAX_QD 32
#define MAX_BS (128 * 1024)
#define VEC_BLK 0x44

struct blk_hdr { uint32_t type, reserved; uint64_t sector; };

static struct vdev blk;
static uint64_t capacity;

static struct blk_hdr *slot_hdr(unsigned s) { return (void *)(uintptr_t)(HDR_BASE + 32 * s); }
static volatile uint8_t *slot_status(unsigned s) { return (void *)(uintptr_t)(HDR_BASE + 32 * s + 16); }
static uint8_t *slot_data(unsigned s, uint32_t bs) { return (void *)(uintptr_t)(DATA_BASE + (uint64_t)s * bs); }

/* Build slot s's chain (header, data, status) and submit it. */
static bool blk_defer_kick; /* blkbench with blk.batch=1: one kick per batch */

static void blk_queue(unsigned s, uint32_t type, uint64_t sector, uint32_t len, uint32_t bs)
{
    struct vring_desc *d = &blk.desc[3 * s];
    struct blk_hdr *h = slot_hdr(s);
    uint16_t base = (uint16_t)(3 * s);

    h->type = type;
    h->reserved = 0;
    h->sector = sector;
    *slot_status(s) = 0xff;
    d[0] = (struct vring_desc){ (uint64_t)(uintptr_t)h, 16, VRING_DESC_F_NEXT, (uint16_t)(base + 1) };
    if (len) {
        d[1] = (struct vring_desc){ (uint64_t)(uintptr_t)slot_data(s, bs), len,
                                    (uint16_t)(VRING_DESC_F_NEXT | (type == BLK_T_IN || type == BLK_T_GET_ID ? VRING_DESC_F_WRITE : 0)),
                                    (uint16_t)(base + 2) };
        d[2] = (struct vring_desc){ (uint64_t)(uintptr_t)slot_status(s), 1, VRING_DESC_F_WRITE, 0 };
    } else {
        d[0].next = (uint16_t)(base + 2);
        d[2] = (struct vring_desc){ (uint64_t)(uintptr_t)slot_status(s), 1, VRING_DESC_F_WRITE, 0 };
    }
    if (blk_defer_kick)
        virtio_publish(&blk, base);
    else
        virtio_submit(&blk, base);
}

/* One synchronous request in slot 0; returns the status byte or -1 on timeout. */
static int blk_rw(uint32_t type, uint64_t sector, uint32_t len)
{
    uint64_t t0 = rdtsc();
    int id;

    blk_queue(0, type, sector, len, MAX_BS);
    while ((id = virtio_poll(&blk, NULL)) < 0) {
        if (rdtsc() - t0 > 20000000000ULL)
            return -1;
        cpu_relax();
    }
    return id == 0 ? *slot_status(0) : -2;
}

static int blk_open(struct guest *g)
{
    int bdf = virtio_find(0x1042, (int)guest_arg(g, "blk.dev=", 0)), rc;

    if (bdf < 0) {
        xt_note(" reason=no-virtio-blk");
        return XT_SKIP;
    }
    if (g->mem_ram_bytes < 32ULL << 20) {
        xt_note(" reason=need-32MiB");
        return XT_SKIP;
    }
    rc = virtio_init(&blk, (uint32_t)bdf,
                     (1ULL << VIRTIO_F_EVENT_IDX) | (1ULL << F_RO) | (1ULL << F_FLUSH) | (1ULL << F_WZ),
                     MEM_BASE);
    if (rc < 0) {
        xt_note(" init=%d bdf=0x%x common=0x%lx notify=0x%lx device=0x%lx cmd=0x%x", rc, bdf,
                blk.common, blk.notify, blk.device, pci_cfg_read32((uint32_t)bdf, 4) & 0xffff);
        return XT_FAIL;
    }
    capacity = virtio_cfg32(&blk, 0) | (uint64_t)virtio_cfg32(&blk, 4) << 32;
    return XT_PASS;
}

static void fill(uint8_t *p, uint32_t n, uint32_t seed)
{
    for (uint32_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

/* Writable disk: pattern write/read-back over 64 KiB at sector 8 (blk.seed=N
 * makes the pattern reproducible), flush, write-zeroes of sectors 8..15. */
static int blk_rw_checks(struct guest *g)
{
    static uint8_t want[65536];
    uint8_t *buf = slot_data(0, MAX_BS);
    int st;

    fill(want, sizeof(want), (uint32_t)guest_arg(g, "blk.seed=", rdtsc()));
    memcpy(buf, want, sizeof(want));
    if ((st = blk_rw(BLK_T_OUT, 8, sizeof(want))) != 0) {
        xt_note(" write=%d", st);
        return XT_FAIL;
    }
    if ((st = blk_rw(BLK_T_FLUSH, 0, 0)) != 0) {
        xt_note(" flush=%d", st);
        return XT_FAIL;
    }
    memset(buf, 0, sizeof(want));
    if ((st = blk_rw(BLK_T_IN, 8, sizeof(want))) != 0 || memcmp(buf, want, sizeof(want))) {
        xt_note(" readback=%s", st ? "error" : "mismatch");
        return XT_FAIL;
    }
    if (blk.features & (1ULL << F_WZ)) {
        uint32_t *seg = (uint32_t *)buf;
        seg[0] = 8; seg[1] = 0; seg[2] = 8; seg[3] = 0;  /* sector 8, 8 sectors */
        if ((st = blk_rw(BLK_T_WRITE_ZEROES, 0, 16)) != 0) {
            xt_note(" write_zeroes=%d", st);
            return XT_FAIL;
        }
        memset(buf, 0xee, 4096);
        if (blk_rw(BLK_T_IN, 8, 4096) != 0 || buf[0] || buf[4095] ||
            memcmp(buf, buf + 1, 4095)) {
            xt_note(" zeroes=bad");
            return XT_FAIL;
        }
    }
    xt_note(" rw=ok");
    return XT_PASS;
}

/* The MSI-X path: one request completes with an interrupt on this CPU. */
static int blk_irq_check(struct guest *g)
{
    uint64_t before = irq_count[VEC_BLK - VEC_IRQ_BASE], t0;

    if (virtio_msix(&blk, lapic_id(g->acpi->lapic_base), VEC_BLK) < 0) {
        xt_note(" msix=unavailable");
        return XT_FAIL;
    }
    irq_enable();
    blk_queue(0, BLK_T_IN, 0, 512, MAX_BS);
    for (t0 = rdtsc(); irq_count[VEC_BLK - VEC_IRQ_BASE] == before; cpu_relax())
        if (rdtsc() - t0 > 20000000000ULL)
            break;
    irq_disable();
    while (virtio_poll(&blk, NULL) < 0)
        cpu_relax();
    xt_note(" irqs=%lu", irq_count[VEC_BLK - VEC_IRQ_BASE] - before);
    return irq_count[VEC_BLK - VEC_IRQ_BASE] > before ? XT_PASS : XT_FAIL;
}

/* blk: drive the first virtio-blk disk (blk.dev=N picks another). */
int test_blk(struct guest *g)
{
    uint8_t *buf;
    int rc = blk_open(g), st;

    if (rc != XT_PASS)
        return rc;
    buf = slot_data(0, MAX_BS);
    xt_note(" sectors=%lu ro=%d", capacity, !!(blk.features & (1ULL << F_RO)));
    memset(buf, 0, 64);
    if ((st = blk_rw(BLK_T_GET_ID, 0, 20)) != 0)
        xt_note(" get_id=%d", st);
    else
        xt_note(" id=%s", buf[0] ? (char *)buf : "-");
    if (guest_arg(g, "blk.expect=", 256) < 256) {  /* 4 KiB at 512 KiB hold this byte */
        uint64_t v = guest_arg(g, "blk.expect=", 256);
        if ((st = blk_rw(BLK_T_IN, 1024, 4096)) != 0 || buf[0] != v || memcmp(buf, buf + 1, 4095)) {
            xt_note(" expect=bad got=0x%x", buf[0]);
            return XT_FAIL;
        }
        xt_note(" expect=ok");
    }
    if (blk_rw(BLK_T_IN, capacity, 512) != 1) {      /* past the end: IOERR */
        xt_note(" bounds=bad");
        return XT_FAIL;
    }
    if (blk.features & (1ULL << F_RO)) {
        if ((st = blk_rw(BLK_T_OUT, 0, 512)) != 1 || blk_rw(BLK_T_IN, 0, 4096) != 0) {
            xt_note(" ro_write=%d", st);
            return XT_FAIL;
        }
        xt_note(" ro=enforced");
    } else if ((rc = blk_rw_checks(g)) != XT_PASS) {
        return rc;
    }
    if (guest_arg(g, "blk.irq=", 1) && g->acpi->lapic_base)
        return blk_irq_check(g);
    return XT_PASS;
}

/* blkbench: blk.mode=0 randread | 1 seqread | 2 seqwrite, blk.bs, blk.qd, blk.n;
 * blk.batch=1 (default) publishes the requests that fit, then kicks once, as
 * Linux's virtio-blk does for a batch; blk.batch=0 kicks after each one. */
int test_blkbench(struct guest *g)
{
    uint64_t mode = guest_arg(g, "blk.mode=", 0), bs = guest_arg(g, "blk.bs=", 4096);
    uint64_t qd = guest_arg(g, "blk.qd=", 1), n = guest_arg(g, "blk.n=", 2000);
    uint64_t done = 0, issued = 0, pos = 0, rnd = 88172645463325252ULL, t0, cyc, khz;
    uint32_t type = mode == 2 ? BLK_T_OUT : BLK_T_IN;
    int rc = blk_open(g), errors = 0, nfree = 0;
    uint8_t freeslot[MAX_QD];

    if (rc != XT_PASS)
        return rc;
    if (bs < 512 || bs > MAX_BS || bs % 512 || qd < 1 || qd > MAX_QD || capacity < bs / 512 * 2)
        return XT_FAIL;
    for (unsigned s = 0; s < qd; s++)
        freeslot[nfree++] = (uint8_t)(qd - 1 - s);
    blk_defer_kick = guest_arg(g, "blk.batch=", 1) != 0;
    t0 = rdtsc();
    while (done < n) {
        uint16_t old = blk.avail_idx;

        while (issued < n && nfree) {
            uint64_t sector;
            if (mode == 0) {
                rnd ^= rnd << 13; rnd ^= rnd >> 7; rnd ^= rnd << 17;
                sector = rnd % (capacity / (bs / 512)) * (bs / 512);
            } else {
                sector = pos;
                pos = pos + bs / 512 * 2 > capacity ? 0 : pos + bs / 512;
            }
            blk_queue(freeslot[--nfree], type, sector, (uint32_t)bs, (uint32_t)bs);
            issued++;
        }
        virtio_kick(&blk, old);
        int id = virtio_poll(&blk, NULL);
        if (id < 0) {
            cpu_relax();
            continue;
        }
        errors += *slot_status((unsigned)id / 3) != 0;
        freeslot[nfree++] = (uint8_t)(id / 3);
        done++;
    }
    cyc = rdtsc() - t0;
    blk_defer_kick = false;
    khz = guest_tsc_khz(g);
    kprintf("XBENCH blk mode=%s bs=%lu qd=%lu n=%lu errors=%d cycles=%lu",
            mode == 0 ? "randread" : mode == 1 ? "seqread" : "seqwrite", bs, qd, n, errors, cyc);
    if (khz && cyc)
        kprintf(" iops=%lu mib_s=%lu", n * khz * 1000 / cyc, n * bs * khz * 1000 / cyc >> 20);
    kprintf("\n");
    return errors ? XT_FAIL : XT_PASS;
}

/* Publish chain head `head` (its descriptors already written), let the device
 * look, and report whether it flagged DEVICE_NEEDS_RESET within ~0.1 s. */
static bool blk_expect_reset(uint16_t head, bool jump_idx)
{
    uint64_t t0 = rdtsc();

    if (jump_idx) {                       /* avail idx far more than a ring ahead */
        blk.avail_idx = (uint16_t)(blk.avail_idx + 1000);
        blk.avail->idx = blk.avail_idx;
        __asm__ volatile("mfence" ::: "memory");
        *(volatile uint16_t *)(uintptr_t)blk.notify_addr = 0;
    } else {
        virtio_submit(&blk, head);
    }
    while (rdtsc() - t0 < 300000000ULL) {
        if (virtio_status(&blk) & 0x40)
            return true;
        cpu_relax();
    }
    return false;
}

/* blkhostile: malformed chains each put the disk into DEVICE_NEEDS_RESET
 * (and nothing else happens: the VMM keeps running); after a reset the
 * same disk works again. */
int test_blkhostile(struct guest *g)
{
    struct blk_hdr *h = slot_hdr(0);
    uint64_t hdr = (uint64_t)(uintptr_t)h, st = (uint64_t)(uintptr_t)slot_status(0);
    uint64_t data = (uint64_t)(uintptr_t)slot_data(0, MAX_BS);
    static const char *const names[] = { "outside-ram", "loop", "next-range",
                                         "read-after-write", "zero-len", "idx-jump" };
    int rc = blk_open(g), flagged = 0;

    if (rc != XT_PASS)
        return rc;
    for (unsigned c = 0; c < 6; c++) {
        struct vring_desc *d = blk.desc;
        *h = (struct blk_hdr){ BLK_T_IN, 0, 0 };
        d[0] = (struct vring_desc){ hdr, 16, VRING_DESC_F_NEXT, 1 };
        d[1] = (struct vring_desc){ data, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2 };
        d[2] = (struct vring_desc){ st, 1, VRING_DESC_F_WRITE, 0 };
        switch (c) {
        case 0: d[1].addr = 0xf0000000ULL; break;          /* MMIO hole, not RAM */
        case 1: d[1].next = 1; break;                       /* d[1] -> d[1] ... */
        case 2: d[1].next = 4000; break;
        case 3: d[0].flags |= VRING_DESC_F_WRITE; d[1].flags &= (uint16_t)~VRING_DESC_F_WRITE; break;
        case 4: d[1].len = 0; break;
        default: break;
        }
        if (blk_expect_reset(0, c == 5))
            flagged++;
        else
            xt_note(" missed=%s", names[c]);
        if (blk_open(g) != XT_PASS) {         /* reset and set the device up again */
            xt_note(" reinit=failed after=%s", names[c]);
            return XT_FAIL;
        }
    }
    rc = blk_rw(BLK_T_IN, 0, 4096);
    xt_note(" flagged=%d/6 after_reset_read=%d", flagged, rc);
    return flagged == 6 && rc == 0 ? XT_PASS : XT_FAIL;
}
