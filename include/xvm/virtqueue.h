/* virtqueue.h - the device side of a virtio 1.x split virtqueue, with
 * event-idx and indirect descriptors, hardened against a hostile driver.
 *
 * Every guest value (avail idx, ring entries, descriptor addr/len/flags/next,
 * indirect tables) is read once into a local and checked: descriptor index
 * < queue size, no loops (a chain visits at most `size` descriptors, an
 * indirect table at most its own length), no nested indirect tables, every
 * buffer entirely inside guest RAM (gm_ptr), no readable descriptor after a
 * writable one, total length <= VQ_MAX_CHAIN_BYTES, at most VQ_MAX_IOV
 * segments, avail idx never more than `size` ahead of the last seen index.
 * Zero-length buffers are refused too (as QEMU does), so every iovec is a
 * real, non-empty range of guest RAM and VQ_MAX_IOV bounds the work per
 * chain. An indirect descriptor must not have NEXT set (it ends the chain).
 * A violation makes vq_pop() return -EIO and sets vq->why (a static
 * string); the transport then sets DEVICE_NEEDS_RESET and logs one line
 * with that reason. The VMM never trusts a guest value twice and never
 * touches memory outside guest RAM. Design notes: docs/design/virtqueue.md.
 *
 * Threads: one thread pops (the device's queue handler); completions may
 * push from another thread. Every vq_* function that touches device state
 * takes the queue's lock itself.
 *
 * Device loop: pop until vq_pop() returns 0. With notifications enabled
 * (the default), a 0 from vq_pop() guarantees the driver will kick for its
 * next buffer. A device that polls may vq_set_notify(false) while busy and
 * must vq_set_notify(true) and re-pop when that returns true before it
 * sleeps. */
#ifndef XVM_VIRTQUEUE_H
#define XVM_VIRTQUEUE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct guestmem;

#define VQ_MAX_SIZE 32768         /* virtio limit for split queues */
#define VQ_MAX_IOV 256           /* devices advertise seg_max below this */
#define VQ_MAX_CHAIN_BYTES (1ULL << 32)

/* virtio feature bits the queue layer implements */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX 29
#define VIRTIO_F_VERSION_1 32

struct virtqueue {
	const struct guestmem *mem;
	pthread_mutex_t lock;
	/* set by the driver through the transport (while not enabled) */
	uint16_t size;            /* power of two, <= VQ_MAX_SIZE */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	bool enabled;
	bool event_idx;           /* VIRTIO_F_EVENT_IDX negotiated */
	bool indirect;            /* VIRTIO_F_INDIRECT_DESC negotiated */
	/* device state */
	uint16_t last_avail;      /* next avail ring slot to consume */
	uint16_t used_idx;        /* our copy of used->idx */
	uint16_t signalled_used;  /* used idx at the last interrupt */
	bool signalled_valid;
	bool notify_off;          /* vq_set_notify(false) in effect */
	bool broken;              /* a violation was seen: no more work */
	const char *why;          /* static reason for broken, else NULL */
};

/* One request: the buffers of a descriptor chain as host iovecs, readable
 * ("out", driver -> device) first, then writable ("in"). */
struct vq_elem {
	uint16_t head;            /* for vq_push */
	unsigned out_num, in_num; /* iov[0..out_num) readable, then in_num writable */
	uint64_t out_len, in_len; /* bytes in each part */
	struct iovec iov[VQ_MAX_IOV];
};

void vq_init(struct virtqueue *vq, const struct guestmem *mem);
/* Forget all device state (device reset or queue reset): indices, notify
 * state, broken; the queue is disabled until vq_enable(). size, the ring
 * addresses and the feature flags are the transport's and are kept. */
void vq_reset(struct virtqueue *vq);
/* Validate the driver's ring addresses when the queue is enabled: size a
 * power of two in [1, VQ_MAX_SIZE], the three areas in RAM with the spec's
 * alignment (desc 16, avail 2, used 4). 0 or -EINVAL (queue stays off). */
int vq_enable(struct virtqueue *vq);

/* Take the next available chain into *e. Returns 1 when one was taken,
 * 0 when the ring is empty, -EIO on a malformed ring or chain (the queue is
 * then marked broken and returns -EIO forever until vq_reset). */
int vq_pop(struct virtqueue *vq, struct vq_elem *e);
/* Give a chain back with `written` bytes written into its writable part.
 * Dropped silently when the queue is disabled or broken (in-flight requests
 * finishing after a reset) or head >= size (a device bug). */
void vq_push(struct virtqueue *vq, uint16_t head, uint32_t written);
/* After pushes: should the driver be interrupted now? (event idx aware;
 * without event idx: unless VRING_AVAIL_F_NO_INTERRUPT). false when the
 * queue is disabled or broken. */
bool vq_should_notify(struct virtqueue *vq);
/* Tell the driver whether we want kicks (flag, or avail_event with
 * event idx set to the current last_avail). Returns true when buffers are
 * pending (re-check the ring after enabling); false on a disabled or
 * broken queue. */
bool vq_set_notify(struct virtqueue *vq, bool enable);

/* Copy helpers: vq_elem_read reads the readable part, vq_elem_write writes
 * the writable part, both from byte off; 0 or -EFAULT when that part is
 * shorter than off + len. */
int vq_elem_read(const struct vq_elem *e, uint64_t off, void *dst, uint64_t len);
int vq_elem_write(const struct vq_elem *e, uint64_t off, const void *src, uint64_t len);

#endif
