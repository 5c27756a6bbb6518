/* virtio_blk.h - a virtio-blk disk (xVM's xdb/xdf split block driver, done
 * the modern way) backed by an image of the block layer.
 *
 * Requests: read, write, flush, discard, write-zeroes, get-id; read-only
 * disks (VIRTIO_BLK_F_RO, writes fail with IOERR); several queues
 * (VIRTIO_BLK_F_MQ). Data moves between guest RAM and the image without a
 * bounce buffer: the guest's buffers are handed to the block engine. */
#ifndef XVM_VIRTIO_BLK_H
#define XVM_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "xvm/block.h"

struct vm;
struct pci_bus;
struct evloop;
struct vblk;

struct vblk_opts {
	struct blk_opts image;   /* path, format, readonly */
	const char *id;          /* serial returned by GET_ID (<= 20 bytes) */
	unsigned queues;         /* 1..16 (0: 1) */
	unsigned poll_us;        /* ring polling after a batch; VBLK_POLL_DEFAULT: 64 */
};
#define VBLK_POLL_DEFAULT (~0u)

/* Parse "PATH[,format=raw|qcow2][,readonly][,id=NAME][,queues=N][,poll=US]" (the
 * --disk option) into o; strings point into a copy owned by the caller's
 * buf (at least strlen(spec)+1 bytes). 0 or -EINVAL (logged). */
int vblk_parse(const char *spec, char *buf, struct vblk_opts *o);
/* Open the image and plug the device. 0 or -errno (logged). */
int vblk_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vblk_opts *o, struct vblk **out);
/* What `devices` and `stats` report of a disk (any thread). Counters are
 * requests started (rd/wr/flush), 512-byte sectors moved, requests that
 * arrived while the engine's slots were all busy (oo_reqs), and requests
 * answered with an I/O error. Strings belong to the disk. */
struct vblk_info {
	const char *id, *path, *format;
	bool readonly;
	unsigned slot;           /* PCI slot on bus 0 */
	uint64_t rd_reqs, wr_reqs, rd_sectors, wr_sectors, flush_reqs;
	uint64_t oo_reqs, errors;
};
void vblk_get_info(struct vblk *b, struct vblk_info *info);
/* Unplug (safe while vCPUs run), wait for in-flight requests, close the
 * image. NULL is fine. */
void vblk_destroy(struct vblk *b);
/* The PCI slot and the id (the id= option, "disk" by default). */
unsigned vblk_slot(const struct vblk *b);
const char *vblk_id(const struct vblk *b);

#endif
