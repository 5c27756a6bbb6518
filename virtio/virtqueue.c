/* virtqueue.c - the device side of a virtio 1.x split virtqueue, hardened against a hostile driver. */
#include "xvm/virtqueue.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "xvm/guestmem.h"

/*
 * Ring layout (virtio 1.x §2.7, all fields little-endian):
 *   descriptor table  16 * size bytes, 16-byte aligned
 *       le64 addr; le32 len; le16 flags; le16 next;
 *   available ring    6 + 2 * size bytes, 2-byte aligned
 *       le16 flags; le16 idx; le16 ring[size]; le16 used_event;
 *   used ring         6 + 8 * size bytes, 4-byte aligned
 *       le16 flags; le16 idx; {le32 id; le32 len} ring[size]; le16 avail_event;
 *
 * Memory ordering. The driver runs on another CPU and shares these rings
 * with us through plain memory, so every access that synchronises with it
 * is an explicit atomic:
 *  - avail->idx is loaded with acquire: the driver writes the ring entry
 *    (and the descriptors) before its release/wmb store of idx, so after
 *    our acquire load of idx those entries are visible.
 *  - used->idx is stored with release after the used element is written,
 *    so a driver that sees the new idx also sees the element.
 *  - publishing avail_event (or clearing VRING_USED_F_NO_NOTIFY) and then
 *    re-reading avail->idx is a store followed by a load of a different
 *    location; x86 (and every other CPU) may reorder that pair. The driver
 *    does the mirror image (store avail->idx, full barrier, read
 *    avail_event/flags). Without a full fence on our side both could read
 *    the other's old value: we think the ring is empty and the driver
 *    thinks we do not want a kick, and the request hangs. Hence
 *    atomic_thread_fence(seq_cst) between the two.
 *  - the same store->load pattern exists for interrupts: we store used->idx
 *    and then read used_event (or avail->flags); the driver stores
 *    used_event, full barrier, then reads used->idx. A full fence sits
 *    between our store and our load in vq_should_notify.
 */

#define VRING_DESC_F_NEXT 1
#define VRING_DESC_F_WRITE 2
#define VRING_DESC_F_INDIRECT 4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY 1

#define DESC_BYTES 16u

/* A descriptor copied out of guest memory (host byte order). */
struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

/* Host views of the three ring areas, valid while the lock is held. */
struct vq_rings {
	const uint8_t *desc;
	uint8_t *avail;
	uint8_t *used;
};

static uint64_t desc_area(uint16_t size) { return (uint64_t)DESC_BYTES * size; }
static uint64_t avail_area(uint16_t size) { return 6 + 2 * (uint64_t)size; }
static uint64_t used_area(uint16_t size) { return 6 + 8 * (uint64_t)size; }

static bool size_ok(uint16_t size)
{
	return size && size <= VQ_MAX_SIZE && !(size & (size - 1));
}

/* Mark the queue broken with a reason; every later vq_pop() fails. */
static int vq_fail(struct virtqueue *vq, const char *why)
{
	vq->broken = true;
	vq->why = why;
	return -EIO;
}

static int vq_map(struct virtqueue *vq, struct vq_rings *r)
{
	r->desc = gm_ptr(vq->mem, vq->desc_gpa, desc_area(vq->size));
	r->avail = gm_ptr(vq->mem, vq->avail_gpa, avail_area(vq->size));
	r->used = gm_ptr(vq->mem, vq->used_gpa, used_area(vq->size));
	if (!size_ok(vq->size) || !r->desc || !r->avail || !r->used)
		return vq_fail(vq, "ring outside guest RAM");
	return 0;
}

/* A 16-bit ring field; vq_enable checked the ring alignment (avail 2,
 * used 4) and every offset used is even, so the access is aligned. */
static uint16_t *ring16(uint8_t *base, size_t off)
{
	return (uint16_t *)(void *)(base + off);
}

/* avail->idx (acquire: orders the ring entry and descriptor reads after it) */
static uint16_t avail_idx(const struct vq_rings *r)
{
	return le16toh(__atomic_load_n(ring16(r->avail, 2), __ATOMIC_ACQUIRE));
}

static uint16_t avail_flags(const struct vq_rings *r)
{
	return le16toh(__atomic_load_n(ring16(r->avail, 0), __ATOMIC_RELAXED));
}

static uint16_t avail_entry(const struct vq_rings *r, uint16_t slot)
{
	return le16toh(__atomic_load_n(ring16(r->avail, 4 + 2 * (size_t)slot),
				       __ATOMIC_RELAXED));
}

static uint16_t used_event(const struct virtqueue *vq, const struct vq_rings *r)
{
	return avail_entry(r, vq->size);
}

static void set_avail_event(const struct virtqueue *vq, struct vq_rings *r, uint16_t v)
{
	__atomic_store_n(ring16(r->used, 4 + 8 * (size_t)vq->size), htole16(v),
			 __ATOMIC_RELAXED);
}

/* Copy one descriptor out of guest memory exactly once. */
static void read_desc(const uint8_t *p, struct vq_desc *d)
{
	uint8_t raw[DESC_BYTES];
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;

	memcpy(raw, p, sizeof(raw));
	memcpy(&addr, raw, 8);
	memcpy(&len, raw + 8, 4);
	memcpy(&flags, raw + 12, 2);
	memcpy(&next, raw + 14, 2);
	d->addr = le64toh(addr);
	d->len = le32toh(len);
	d->flags = le16toh(flags);
	d->next = le16toh(next);
}

/* Check one buffer descriptor and append it to the element. */
static int add_buf(struct virtqueue *vq, struct vq_elem *e, const struct vq_desc *d)
{
	unsigned n = e->out_num + e->in_num;
	bool wr = d->flags & VRING_DESC_F_WRITE;
	void *p;

	if (!d->len)
		return vq_fail(vq, "zero-length buffer");
	if (!wr && e->in_num)
		return vq_fail(vq, "readable buffer after a writable one");
	if (n >= VQ_MAX_IOV)
		return vq_fail(vq, "too many segments in a chain");
	if (e->out_len + e->in_len + d->len > VQ_MAX_CHAIN_BYTES)
		return vq_fail(vq, "chain longer than 4 GiB");
	p = gm_ptr(vq->mem, d->addr, d->len);
	if (!p)
		return vq_fail(vq, "buffer outside guest RAM");
	e->iov[n].iov_base = p;
	e->iov[n].iov_len = d->len;
	if (wr) {
		e->in_num++;
		e->in_len += d->len;
	} else {
		e->out_num++;
		e->out_len += d->len;
	}
	return 0;
}

/* Walk an indirect table: it holds its own chain, indices relative to it. */
static int walk_indirect(struct virtqueue *vq, struct vq_elem *e, const struct vq_desc *ind)
{
	const uint8_t *table;
	uint32_t n, i = 0, visited = 0;
	struct vq_desc d;
	int rc;

	if (!vq->indirect)
		return vq_fail(vq, "indirect descriptor not negotiated");
	if (ind->flags & VRING_DESC_F_NEXT)
		return vq_fail(vq, "indirect descriptor with NEXT set");
	if (!ind->len || ind->len % DESC_BYTES)
		return vq_fail(vq, "indirect table length not a multiple of 16");
	table = gm_ptr(vq->mem, ind->addr, ind->len);
	if (!table)
		return vq_fail(vq, "indirect table outside guest RAM");
	n = ind->len / DESC_BYTES;
	for (;;) {
		if (++visited > n)
			return vq_fail(vq, "loop in indirect table");
		read_desc(table + (size_t)i * DESC_BYTES, &d);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return vq_fail(vq, "nested indirect table");
		rc = add_buf(vq, e, &d);
		if (rc)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= n)
			return vq_fail(vq, "indirect next index out of range");
		i = d.next;
	}
}

/* Walk the chain starting at head (< size) into e. */
static int walk_chain(struct virtqueue *vq, const struct vq_rings *r, uint16_t head,
		      struct vq_elem *e)
{
	uint32_t visited = 0;
	uint16_t i = head;
	struct vq_desc d;
	int rc;

	for (;;) {
		if (++visited > vq->size)
			return vq_fail(vq, "loop in descriptor chain");
		read_desc(r->desc + (size_t)i * DESC_BYTES, &d);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return walk_indirect(vq, e, &d);
		rc = add_buf(vq, e, &d);
		if (rc)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->size)
			return vq_fail(vq, "descriptor next index out of range");
		i = d.next;
	}
}

void vq_init(struct virtqueue *vq, const struct guestmem *mem)
{
	memset(vq, 0, sizeof(*vq));
	vq->mem = mem;
	pthread_mutex_init(&vq->lock, NULL);
}

void vq_reset(struct virtqueue *vq)
{
	pthread_mutex_lock(&vq->lock);
	vq->enabled = false;
	vq->last_avail = 0;
	vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_valid = false;
	vq->notify_off = false;
	vq->broken = false;
	vq->why = NULL;
	pthread_mutex_unlock(&vq->lock);
}

int vq_enable(struct virtqueue *vq)
{
	int rc = -EINVAL;

	pthread_mutex_lock(&vq->lock);
	if (!size_ok(vq->size))
		goto out;
	if ((vq->desc_gpa & 15) || (vq->avail_gpa & 1) || (vq->used_gpa & 3))
		goto out;
	if (!gm_ptr(vq->mem, vq->desc_gpa, desc_area(vq->size)) ||
	    !gm_ptr(vq->mem, vq->avail_gpa, avail_area(vq->size)) ||
	    !gm_ptr(vq->mem, vq->used_gpa, used_area(vq->size)))
		goto out;
	vq->enabled = true;
	rc = 0;
out:
	pthread_mutex_unlock(&vq->lock);
	return rc;
}

/*
 * With event idx and notifications on, an empty ring must leave avail_event
 * at last_avail so the driver kicks for its next buffer; the fence orders
 * that store before the re-read of avail->idx (see the note at the top).
 * Returns the avail idx to use.
 */
static uint16_t publish_avail_event(struct virtqueue *vq, struct vq_rings *r, uint16_t idx)
{
	if (!vq->event_idx || vq->notify_off)
		return idx;
	set_avail_event(vq, r, vq->last_avail);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return avail_idx(r);
}

static int pop_locked(struct virtqueue *vq, struct vq_elem *e)
{
	struct vq_rings r;
	uint16_t idx, pending, head;
	int rc;

	if (vq->broken)
		return -EIO;
	if (!vq->enabled)
		return 0;
	rc = vq_map(vq, &r);
	if (rc)
		return rc;
	idx = avail_idx(&r);
	if (idx == vq->last_avail) {
		idx = publish_avail_event(vq, &r, idx);
		if (idx == vq->last_avail)
			return 0;
	}
	pending = (uint16_t)(idx - vq->last_avail);
	if (pending > vq->size)
		return vq_fail(vq, "avail idx more than queue size ahead");
	head = avail_entry(&r, vq->last_avail & (vq->size - 1));
	if (head >= vq->size)
		return vq_fail(vq, "avail ring head index out of range");
	e->head = head;
	e->out_num = e->in_num = 0;
	e->out_len = e->in_len = 0;
	rc = walk_chain(vq, &r, head, e);
	if (rc)
		return rc;
	vq->last_avail++;
	return 1;
}

int vq_pop(struct virtqueue *vq, struct vq_elem *e)
{
	int rc;

	pthread_mutex_lock(&vq->lock);
	rc = pop_locked(vq, e);
	pthread_mutex_unlock(&vq->lock);
	return rc;
}

void vq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	struct vq_rings r;
	uint8_t *slot;
	uint32_t id = htole32(head), len = htole32(written);

	pthread_mutex_lock(&vq->lock);
	/* a completion for a queue that was reset or broke meanwhile is dropped */
	if (!vq->enabled || vq->broken || head >= vq->size || vq_map(vq, &r))
		goto out;
	slot = r.used + 4 + 8 * (size_t)(vq->used_idx & (vq->size - 1));
	memcpy(slot, &id, 4);
	memcpy(slot + 4, &len, 4);
	vq->used_idx++;
	/* release: the element above is visible before the new idx */
	__atomic_store_n(ring16(r.used, 2), htole16(vq->used_idx), __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&vq->lock);
}

bool vq_should_notify(struct virtqueue *vq)
{
	struct vq_rings r;
	bool notify = false, valid;
	uint16_t old, cur, ev;

	pthread_mutex_lock(&vq->lock);
	if (!vq->enabled || vq->broken || vq_map(vq, &r))
		goto out;
	/* our used->idx store must be globally visible before we read the
	   driver's suppression state (store -> load: full fence) */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx) {
		notify = !(avail_flags(&r) & VRING_AVAIL_F_NO_INTERRUPT);
		goto out;
	}
	ev = used_event(vq, &r);
	valid = vq->signalled_valid;
	old = vq->signalled_used;
	cur = vq->used_idx;
	vq->signalled_used = cur;
	vq->signalled_valid = true;
	/* interrupt when used_event lies in [old, cur) modulo 2^16 (§2.7.10) */
	notify = !valid || (uint16_t)(cur - ev - 1) < (uint16_t)(cur - old);
out:
	pthread_mutex_unlock(&vq->lock);
	return notify;
}

bool vq_set_notify(struct virtqueue *vq, bool enable)
{
	struct vq_rings r;
	bool pending = false;

	pthread_mutex_lock(&vq->lock);
	if (!vq->enabled || vq->broken || vq_map(vq, &r))
		goto out;
	vq->notify_off = !enable;
	if (vq->event_idx) {
		/* disabling needs no write: avail_event simply stays behind */
		if (enable)
			set_avail_event(vq, &r, vq->last_avail);
	} else {
		__atomic_store_n(ring16(r.used, 0),
				 htole16(enable ? 0 : VRING_USED_F_NO_NOTIFY), __ATOMIC_RELAXED);
	}
	/* the store above must be visible before we look at avail->idx */
	if (enable)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pending = avail_idx(&r) != vq->last_avail;
out:
	pthread_mutex_unlock(&vq->lock);
	return pending;
}

/* Copy between a flat buffer and bytes [off, off+len) of an iovec array. */
static int iov_copy(const struct iovec *iov, unsigned n, uint64_t total, uint64_t off,
		    void *buf, uint64_t len, bool to_iov)
{
	uint8_t *b = buf;

	if (off > total || len > total - off)
		return -EFAULT;
	for (unsigned i = 0; i < n && len; i++) {
		uint64_t seg = iov[i].iov_len, k;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		k = seg - off < len ? seg - off : len;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + off, b, k);
		else
			memcpy(b, (const uint8_t *)iov[i].iov_base + off, k);
		b += k;
		len -= k;
		off = 0;
	}
	return 0;
}

int vq_elem_read(const struct vq_elem *e, uint64_t off, void *dst, uint64_t len)
{
	return iov_copy(e->iov, e->out_num, e->out_len, off, dst, len, false);
}

int vq_elem_write(const struct vq_elem *e, uint64_t off, const void *src, uint64_t len)
{
	return iov_copy(e->iov + e->out_num, e->in_num, e->in_len, off, (void *)src, len, true);
}
