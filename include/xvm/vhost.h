/* vhost.h - vhost-net (/dev/vhost-net): the kernel data path for a NIC.
 *
 * virtio/net_vhost.c opens /dev/vhost-net per NIC at start (`--net
 * ...,vhost=`); when the guest sets DRIVER_OK with features vhost
 * implements, it hands the rings, the queues' kick eventfds, their
 * interrupt eventfds (MSI-X irqfds, or eventfds xvm relays) and the tap to
 * the kernel (vhost_net_start) and the userspace path stands aside until
 * the device is reset (vhost_net_stop).
 * The memory table is one region per guest RAM slot. */
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

/* As vhost_net_probe, but keep the device: its fd, or -errno. */
int vhost_net_open(const struct guestmem *gm, uint64_t *features);

#define VHOST_NET_RINGS 2   /* rx (0), tx (1) */

struct vhost_ring {
	uint16_t size, base;                /* entries; next avail index to take */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kick_fd, call_fd;               /* the queue's kick eventfd, vector irqfd */
};

/* VHOST_SET_FEATURES(ack), then per ring NUM, BASE, ADDR (host addresses
 * of the guest rings, checked to be RAM), KICK and CALL, then
 * VHOST_NET_SET_BACKEND with the tap. 0, or -errno with *step naming the
 * failing step (the backend is detached again then). */
int vhost_net_start(int fd, const struct guestmem *gm, uint64_t ack,
		    const struct vhost_ring r[VHOST_NET_RINGS], int tap_fd, const char **step);
/* Detach the tap from both rings and stop them (VHOST_GET_VRING_BASE);
 * base[] gets the next avail index of each (NULL: not wanted). 0 or the
 * first -errno. */
int vhost_net_stop(int fd, uint16_t base[VHOST_NET_RINGS]);

#endif
