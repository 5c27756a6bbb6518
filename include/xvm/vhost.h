/* vhost.h - vhost-net (/dev/vhost-net): what xvm can check about it today.
 *
 * The kernel data path is not driven yet: every NIC uses the userspace
 * path of virtio/net.c. What exists is the groundwork the wiring needs and
 * the report of which path a NIC uses (`--net ...,vhost=on|off|auto`):
 * the memory table vhost wants (one region per guest RAM slot), the choice
 * of guest features vhost must implement in the rings, and a probe that
 * opens the device, takes ownership, reads its features and loads the
 * memory table, then closes it. Still missing (docs/net.md, "vhost-net"):
 * a transport hook at DRIVER_OK and reset, detaching a queue's ioeventfd
 * from the event loop for VHOST_SET_VRING_KICK, and an irqfd per queue
 * vector (with mask handling) for VHOST_SET_VRING_CALL. */
#ifndef XVM_VHOST_H
#define XVM_VHOST_H

#include <stdint.h>

struct guestmem;

enum vhost_mode { VHOST_AUTO = 0, VHOST_OFF, VHOST_ON };

struct vhost_region {
	uint64_t gpa, size, uaddr;
};

/* The regions of guest RAM as vhost sees it (gpa -> this process's
 * address): low RAM, and high RAM from 4 GiB when there is any. Returns the
 * count (1 or 2). */
unsigned vhost_mem_regions(const struct guestmem *gm, struct vhost_region r[2]);

/* The ring features (INDIRECT_DESC, EVENT_IDX, VERSION_1, MRG_RXBUF) among
 * the guest's that vhost must implement, for VHOST_SET_FEATURES; 0 when
 * the backend lacks one of them (use the userspace path then). Offload
 * bits are the tap's business and are left out. */
uint64_t vhost_net_ack(uint64_t vhost_features, uint64_t guest_features);

/* Open /dev/vhost-net, VHOST_SET_OWNER, VHOST_GET_FEATURES (into
 * *features) and VHOST_SET_MEM_TABLE for gm, then close. 0 or -errno
 * (-ENOENT: no device, -EACCES: no permission). */
int vhost_net_probe(const struct guestmem *gm, uint64_t *features);

#endif
