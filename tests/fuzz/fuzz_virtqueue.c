/* fuzz_virtqueue.c - libFuzzer target: a hostile driver's rings against vq_pop/vq_push and friends.
 *
 * Input layout (all of it optional; missing bytes read as zero):
 *   [0]      queue size = 1 << (b & 7); bit 3 event idx; bit 4 indirect;
 *            bit 5 take the ring addresses from [2..7] instead of defaults
 *   [1]      number of script steps (b & 63) + 1; bit 6: size + 1
 *   [2..7]   le16 desc, avail, used offsets (may be unaligned or hang off RAM)
 *   [8..15]  the script: one byte per step, cycled (see run_step)
 *   [16..]   copied into guest RAM at 0: with default addresses the avail
 *            ring is at 0, the descriptor table at 0x110, the used ring at
 *            0x1000; descriptors may point anywhere.
 * Any violated invariant aborts, so the fuzzer reports it as a crash. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/guestmem.h"
#include "xvm/virtqueue.h"

#define FZ_RAM 0x10000u
#define FZ_AVAIL 0x0
#define FZ_DESC 0x110
#define FZ_USED 0x1000
#define FZ_HDR 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ASSERT(c)                                                              \
	do {                                                                   \
		if (!(c))                                                      \
			abort();                                               \
	} while (0)

static uint16_t le16_at(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Every popped element must describe only non-empty ranges of guest RAM. */
static void check_elem(const struct guestmem *gm, const struct virtqueue *vq,
		       const struct vq_elem *e)
{
	uint64_t out = 0, in = 0;
	unsigned n = e->out_num + e->in_num;

	ASSERT(e->head < vq->size);
	ASSERT(n >= 1 && n <= VQ_MAX_IOV);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *b = e->iov[i].iov_base;

		ASSERT(e->iov[i].iov_len > 0);
		ASSERT(b >= gm->host && b + e->iov[i].iov_len <= gm->host + gm->size);
		if (i < e->out_num)
			out += e->iov[i].iov_len;
		else
			in += e->iov[i].iov_len;
	}
	ASSERT(out == e->out_len && in == e->in_len);
	ASSERT(out + in <= VQ_MAX_CHAIN_BYTES);
}

/* Device work on one element: bounded copies whose result is predictable. */
static void use_elem(const struct vq_elem *e, uint8_t op)
{
	uint8_t tmp[64];
	uint64_t off = (uint64_t)(op & 0x0f) * 3, len = (uint64_t)(op >> 4) * 4;
	int rc;

	rc = vq_elem_read(e, off, tmp, len);
	ASSERT(rc == (off + len <= e->out_len ? 0 : -EFAULT));
	memset(tmp, op, sizeof(tmp));
	rc = vq_elem_write(e, off, tmp, len);
	ASSERT(rc == (off + len <= e->in_len ? 0 : -EFAULT));
}

/* One script step. Returns false once the queue broke. */
static bool run_step(const struct guestmem *gm, struct virtqueue *vq, struct vq_elem *e,
		     uint8_t op)
{
	uint16_t before = vq->last_avail;
	bool alive = true;
	int rc;

	switch (op & 3) {
	case 0: /* pop and complete */
	case 1: /* pop and keep (never completed) */
		rc = vq_pop(vq, e);
		ASSERT(rc == 1 || rc == 0 || rc == -EIO);
		if (rc == 1) {
			ASSERT(vq->last_avail == (uint16_t)(before + 1));
			check_elem(gm, vq, e);
			use_elem(e, op);
			if (!(op & 1))
				vq_push(vq, e->head, (uint32_t)(e->in_len > op ? op : e->in_len));
		} else {
			ASSERT(vq->last_avail == before);
		}
		if (rc == -EIO) { /* broken: nothing works until vq_reset */
			uint16_t used = vq->used_idx;

			ASSERT(vq->broken && vq->why);
			ASSERT(vq_pop(vq, e) == -EIO);
			vq_push(vq, 0, 0);
			ASSERT(vq->used_idx == used);
			ASSERT(!vq_should_notify(vq) && !vq_set_notify(vq, true));
			alive = false;
		}
		break;
	case 2:
		(void)vq_set_notify(vq, op & 4);
		break;
	default:
		(void)vq_should_notify(vq);
		if (op & 4) { /* a completion for a head no chain has: dropped */
			uint16_t used = vq->used_idx;

			vq_push(vq, (uint16_t)(vq->size + (op >> 3)), 0);
			ASSERT(vq->used_idx == used);
		}
		break;
	}
	return alive;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* guest RAM is mapped once per process: libFuzzer gives no context
	   pointer, so this function-scope static is the unavoidable state */
	static struct guestmem gm;
	uint8_t hdr[FZ_HDR] = { 0 };
	struct virtqueue vq;
	struct vq_elem e;
	unsigned steps;
	int rc;

	if (!gm.host && gm_init(&gm, FZ_RAM))
		abort();
	memcpy(hdr, data, size < FZ_HDR ? size : FZ_HDR);
	memset(gm.host, 0, FZ_RAM);
	if (size > FZ_HDR)
		memcpy(gm.host, data + FZ_HDR, size - FZ_HDR > FZ_RAM ? FZ_RAM : size - FZ_HDR);
	vq_init(&vq, &gm);
	vq.size = (uint16_t)((1u << (hdr[0] & 7)) + !!(hdr[1] & 64)); /* maybe not 2^n */
	vq.event_idx = hdr[0] & 8;
	vq.indirect = hdr[0] & 16;
	vq.desc_gpa = hdr[0] & 32 ? le16_at(hdr + 2) : FZ_DESC;
	vq.avail_gpa = hdr[0] & 32 ? le16_at(hdr + 4) : FZ_AVAIL;
	vq.used_gpa = hdr[0] & 32 ? le16_at(hdr + 6) : FZ_USED;
	rc = vq_enable(&vq);
	ASSERT(rc == 0 || rc == -EINVAL);
	ASSERT(vq.enabled == !rc);
	if (!(hdr[0] & 32) && !(hdr[1] & 64))
		ASSERT(rc == 0);
	if (hdr[1] & 64 && vq.size > 2)
		ASSERT(rc == -EINVAL);
	steps = (hdr[1] & 63) + 1u;
	for (unsigned i = 0; i < steps; i++) {
		if (!run_step(&gm, &vq, &e, hdr[8 + i % 8]))
			break;
	}
	vq_reset(&vq);
	ASSERT(!vq.broken && !vq.enabled && !vq.why && !vq.last_avail && !vq.used_idx);
	ASSERT(vq_enable(&vq) == rc);
	pthread_mutex_destroy(&vq.lock);
	return 0;
}
