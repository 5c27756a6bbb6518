/* virtio.c - ring-3 virtio-pci modern driver core for the test guest (discovery,
 * negotiation, split queue 0, submit/poll, MSI-X routing). */
#include "virtio.h"

#define CAP_VNDR 0x09
#define CAP_MSIX 0x11
enum { CAP_COMMON = 1, CAP_NOTIFY = 2, CAP_ISR = 3, CAP_DEVICE = 4 };
/* common config offsets */
#define C_DFSEL 0x00
#define C_DF 0x04
#define C_GFSEL 0x08
#define C_GF 0x0c
#define C_MSIX_CONFIG 0x10
#define C_STATUS 0x14
#define C_QSEL 0x16
#define C_QSIZE 0x18
#define C_QMSIX 0x1a
#define C_QENABLE 0x1c
#define C_QNOFF 0x1e
#define C_QDESC 0x20
#define C_QDRIVER 0x28
#define C_QDEVICE 0x30

static inline void w8(uint64_t a, uint8_t v) { *(volatile uint8_t *)(uintptr_t)a = v; }
static inline uint8_t r8(uint64_t a) { return *(volatile uint8_t *)(uintptr_t)a; }
static inline void w16(uint64_t a, uint16_t v) { *(volatile uint16_t *)(uintptr_t)a = v; }
static inline uint16_t r16(uint64_t a) { return *(volatile uint16_t *)(uintptr_t)a; }
static inline void w64(uint64_t a, uint64_t v)
{
    mmio_write32(a, (uint32_t)v);
    mmio_write32(a + 4, (uint32_t)(v >> 32));
}
#define barrier() __asm__ volatile("" ::: "memory")

/* The event-idx words sit right after each ring, whose length is the
 * negotiated queue size (not VQ_SIZE). */
static volatile uint16_t *used_event(struct vdev *d)
{
    return (volatile uint16_t *)((uint8_t *)d->avail + 4 + 2 * d->qsize);
}

static volatile uint16_t *avail_event(struct vdev *d)
{
    return (volatile uint16_t *)((volatile uint8_t *)d->used + 4 + 8 * d->qsize);
}

int virtio_find(uint16_t devid, int n)
{
    if (!pci_present())
        return -1;
    for (uint32_t dev = 0; dev < 32; dev++) {
        uint32_t id = pci_cfg_read32(dev << 3, 0);
        if ((id & 0xffff) == 0x1af4 && (id >> 16) == devid && n-- == 0)
            return (int)(dev << 3);
    }
    return -1;
}

/* Firmware that leaves a BAR unassigned (qboot does with 64-bit ones) gets it
 * placed here, 1 MiB per device: above every VMM's ECAM, below the IOAPIC. */
#define BAR_FALLBACK_BASE 0xe8000000ULL

static uint64_t bar_addr(uint32_t bdf, unsigned bar)
{
    uint32_t off = 0x10 + 4 * bar, lo = pci_cfg_read32(bdf, off);
    bool is64 = (lo & 0x6) == 0x4;
    uint64_t a = lo & ~0xfu;

    if (is64)
        a |= (uint64_t)pci_cfg_read32(bdf, off + 4) << 32;
    if (a || (lo & 1))
        return a;
    a = BAR_FALLBACK_BASE + ((uint64_t)(bdf & 0xff) << 20);
    pci_cfg_write32(bdf, off, (uint32_t)a);
    if (is64)
        pci_cfg_write32(bdf, off + 4, 0);
    return a;
}

static void map_caps(struct vdev *d)
{
    uint32_t bdf = d->bdf;
    unsigned p = pci_cfg_read32(bdf, 0x34) & 0xfc;

    for (int guard = 0; p && guard < 48; guard++) {
        uint32_t h = pci_cfg_read32(bdf, p);
        unsigned id = h & 0xff, next = (h >> 8) & 0xfc;
        if (id == CAP_VNDR) {
            unsigned type = (h >> 24) & 0xff;
            unsigned bar = pci_cfg_read32(bdf, p + 4) & 0xff;
            uint64_t a = bar_addr(bdf, bar) + pci_cfg_read32(bdf, p + 8);
            if (type == CAP_COMMON) d->common = a;
            if (type == CAP_ISR) d->isr = a;
            if (type == CAP_DEVICE) d->device = a;
            if (type == CAP_NOTIFY) {
                d->notify = a;
                d->notify_mult = pci_cfg_read32(bdf, p + 16);
            }
        } else if (id == CAP_MSIX) {
            uint32_t t = pci_cfg_read32(bdf, p + 4);
            d->msix_cap = p;
            d->msix_table = bar_addr(bdf, t & 7) + (t & ~7u);
        }
        p = next;
    }
}

uint8_t virtio_status(const struct vdev *d)
{
    return r8(d->common + C_STATUS);
}

static int setup_queue(struct vdev *d, uint16_t q, uint64_t mem)
{
    uint16_t max;

    w16(d->common + C_QSEL, q);
    max = r16(d->common + C_QSIZE);
    if (!max)
        return -1;
    d->qsize = max < VQ_SIZE ? max : VQ_SIZE;
    w16(d->common + C_QSIZE, d->qsize);
    memset((void *)(uintptr_t)mem, 0, 16384);
    d->desc = (struct vring_desc *)(uintptr_t)mem;
    d->avail = (struct vring_avail *)(uintptr_t)(mem + 4096);
    d->used = (volatile struct vring_used *)(uintptr_t)(mem + 8192);
    w64(d->common + C_QDESC, mem);
    w64(d->common + C_QDRIVER, mem + 4096);
    w64(d->common + C_QDEVICE, mem + 8192);
    d->notify_addr = d->notify + (uint64_t)r16(d->common + C_QNOFF) * d->notify_mult;
    w16(d->common + C_QENABLE, 1);
    return r16(d->common + C_QENABLE) == 1 ? 0 : -1;
}

/* Map, reset, negotiate up to FEATURES_OK. 0 or a negative step. */
static int negotiate(struct vdev *d, uint32_t bdf, uint64_t want)
{
    uint64_t offer;

    memset(d, 0, sizeof(*d));
    d->bdf = bdf;
    pci_cfg_write32(bdf, 4, pci_cfg_read32(bdf, 4) | 0x6); /* memory + bus master */
    map_caps(d);
    if (!d->common || !d->notify)   /* device config is optional (virtio-rng has none) */
        return -1;
    w8(d->common + C_STATUS, 0);
    if (r8(d->common + C_STATUS) != 0)
        return -2;
    w8(d->common + C_STATUS, 1 | 2); /* ACKNOWLEDGE | DRIVER */
    mmio_write32(d->common + C_DFSEL, 0);
    offer = mmio_read32(d->common + C_DF);
    mmio_write32(d->common + C_DFSEL, 1);
    offer |= (uint64_t)mmio_read32(d->common + C_DF) << 32;
    if (!(offer & (1ULL << VIRTIO_F_VERSION_1)))
        return -3;
    d->features = (offer & want) | (1ULL << VIRTIO_F_VERSION_1);
    d->event_idx = d->features & (1ULL << VIRTIO_F_EVENT_IDX);
    mmio_write32(d->common + C_GFSEL, 0);
    mmio_write32(d->common + C_GF, (uint32_t)d->features);
    mmio_write32(d->common + C_GFSEL, 1);
    mmio_write32(d->common + C_GF, (uint32_t)(d->features >> 32));
    w8(d->common + C_STATUS, 1 | 2 | 8); /* FEATURES_OK */
    if (!(r8(d->common + C_STATUS) & 8))
        return -4;
    return 0;
}

int virtio_init(struct vdev *d, uint32_t bdf, uint64_t want, uint64_t ring_mem)
{
    int rc = negotiate(d, bdf, want);

    if (rc < 0)
        return rc;
    if (setup_queue(d, 0, ring_mem) < 0)
        return -5;
    w8(d->common + C_STATUS, 1 | 2 | 8 | 4); /* DRIVER_OK */
    return 0;
}

int virtio_init_queues(struct vdev *q, unsigned nq, uint32_t bdf, uint64_t want,
                       uint64_t ring_mem)
{
    int rc = negotiate(&q[0], bdf, want);

    if (rc < 0)
        return rc;
    for (unsigned i = 1; i < nq; i++)
        q[i] = q[0];
    for (unsigned i = 0; i < nq; i++)
        if (setup_queue(&q[i], (uint16_t)i, ring_mem + 16384ULL * i) < 0)
            return -5;
    w8(q[0].common + C_STATUS, 1 | 2 | 8 | 4); /* DRIVER_OK */
    return 0;
}

void virtio_publish(struct vdev *d, uint16_t head)
{
    d->avail->ring[d->avail_idx % d->qsize] = head;
    barrier();               /* x86: stores are ordered; keep the compiler honest */
    d->avail->idx = ++d->avail_idx;
}

void virtio_submit(struct vdev *d, uint16_t head)
{
    uint16_t old = d->avail_idx;

    virtio_publish(d, head);
    virtio_kick(d, old);
}

void virtio_kick(struct vdev *d, uint16_t old)
{
    if (old == d->avail_idx)
        return;
    __asm__ volatile("mfence" ::: "memory"); /* idx visible before reading avail_event */
    if (d->event_idx) {
        uint16_t ev = *avail_event(d);
        if ((uint16_t)(d->avail_idx - ev - 1) >= (uint16_t)(d->avail_idx - old))
            return;          /* the device is polling: no kick needed */
    } else if (d->used->flags & 1) {
        return;              /* VRING_USED_F_NO_NOTIFY */
    }
    w16(d->notify_addr, 0);
}

int virtio_poll(struct vdev *d, uint32_t *len)
{
    uint16_t i;
    int id;

    if (d->used->idx == d->used_seen)
        return -1;
    barrier();
    i = d->used_seen % d->qsize;
    id = (int)d->used->ring[i].id;
    if (len)
        *len = d->used->ring[i].len;
    d->used_seen++;
    if (d->event_idx)
        *used_event(d) = d->used_seen;     /* interrupt at the next completion */
    return id;
}

int virtio_msix(struct vdev *d, uint32_t apic_id, uint8_t vector)
{
    uint32_t ctl;

    if (!d->msix_cap || !d->msix_table)
        return -1;
    mmio_write32(d->msix_table + 0, 0xfee00000u | apic_id << 12);
    mmio_write32(d->msix_table + 4, 0);
    mmio_write32(d->msix_table + 8, vector);
    mmio_write32(d->msix_table + 12, 0);                 /* unmask entry 0 */
    ctl = pci_cfg_read32(d->bdf, d->msix_cap);
    pci_cfg_write32(d->bdf, d->msix_cap, ctl | 0x80000000u); /* MSI-X enable */
    w16(d->common + C_MSIX_CONFIG, 0xffff);
    w16(d->common + C_QSEL, 0);
    w16(d->common + C_QMSIX, 0);
    return r16(d->common + C_QMSIX) == 0 ? 0 : -1;
}
