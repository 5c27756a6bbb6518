/* virtio.h - a minimal ring-3 virtio 1.x PCI (modern) driver for the test guest: find a
 * device, negotiate features, set up split queues, submit chains, poll or take MSI-X. */
#ifndef XVM_TESTGUEST_VIRTIO_H
#define XVM_TESTGUEST_VIRTIO_H

#include "guest.h"

#define VQ_SIZE 128
#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VIRTIO_F_VERSION_1 32
#define VIRTIO_F_EVENT_IDX 29

struct vring_desc { uint64_t addr; uint32_t len; uint16_t flags, next; };
/* used_event / avail_event follow the ring of the negotiated size: reach them
 * through virtio.c, never through these structs' last fields */
struct vring_avail { uint16_t flags, idx, ring[VQ_SIZE], used_event; };
struct vring_used_elem { uint32_t id, len; };
struct vring_used { uint16_t flags, idx; struct vring_used_elem ring[VQ_SIZE]; uint16_t avail_event; };

struct vdev {
    uint32_t bdf;
    uint64_t common, notify, isr, device, msix_table; /* MMIO addresses */
    uint32_t notify_mult;
    unsigned msix_cap;          /* config offset of the MSI-X capability, 0 if none */
    uint64_t features;          /* accepted */
    /* queue 0 */
    uint16_t qsize;
    struct vring_desc *desc;
    struct vring_avail *avail;
    volatile struct vring_used *used;
    uint16_t avail_idx, used_seen;
    uint64_t notify_addr;
    bool event_idx;
};

/* Find the n-th (0-based) PCI function with vendor 0x1af4 and device id `devid`;
 * returns its bdf or -1. */
int virtio_find(uint16_t devid, int n);
/* Map capabilities, reset, negotiate (VERSION_1 and `want` of the device's offer),
 * set up queue 0 with its rings at the physical address `ring_mem` (16 KiB, page
 * aligned), DRIVER_OK. Returns 0 or a negative step number on failure. */
int virtio_init(struct vdev *d, uint32_t bdf, uint64_t want, uint64_t ring_mem);
/* The same for a device with several queues: q[i] drives queue i, its rings at
 * ring_mem + 16 KiB * i. Returns 0 or a negative step number. */
int virtio_init_queues(struct vdev *q, unsigned nq, uint32_t bdf, uint64_t want,
                       uint64_t ring_mem);
/* Device config space access. */
static inline uint32_t virtio_cfg32(const struct vdev *d, unsigned off)
{
    return mmio_read32(d->device + off);
}
/* Publish chain head `head` and kick the device (respecting event idx). */
void virtio_submit(struct vdev *d, uint16_t head);
/* Publish without a kick; virtio_kick(d, old) then kicks once (if the device
 * asks for it) for everything published since avail index `old`, as Linux
 * does for a batch of requests. */
void virtio_publish(struct vdev *d, uint16_t head);
void virtio_kick(struct vdev *d, uint16_t old);
/* Next used element, or -1 if none yet; *len = bytes written. */
int virtio_poll(struct vdev *d, uint32_t *len);
/* Route queue 0 to MSI-X vector 0 -> LAPIC `vector` on CPU `apic_id`. 0 or -1. */
int virtio_msix(struct vdev *d, uint32_t apic_id, uint8_t vector);
/* Device status byte (for NEEDS_RESET checks). */
uint8_t virtio_status(const struct vdev *d);

#endif
