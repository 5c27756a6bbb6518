/* qcow2_write.c - qcow2 guest writes, write-zeroes and discard (allocation and copy-on-write). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "block/qcow2.h"

static bool in_place(const struct qcow2 *q, uint64_t e)
{
	return !(e & QCOW2_OFLAG_COMPRESSED) && (e & QCOW2_OFFSET_MASK) &&
	       (e & QCOW2_OFLAG_COPIED) && !(q->h.version >= 3 && (e & QCOW2_OFLAG_ZERO));
}

/* Does guest cluster g (entry e) read as zeroes without any host cluster? */
static bool reads_zero_unallocated(const struct qcow2 *q, uint64_t e)
{
	if (e & (QCOW2_OFLAG_COMPRESSED | QCOW2_OFFSET_MASK))
		return false;
	if (q->h.version >= 3 && (e & QCOW2_OFLAG_ZERO))
		return true;
	return !q->n->backing;
}

/* Write part [in, in+n) of guest cluster g whose entry is e. */
static int write_cluster(struct qcow2 *q, uint64_t g, uint64_t e, uint32_t in,
			 uint32_t n, const uint8_t *data, uint8_t *cbuf)
{
	uint64_t host = e & QCOW2_OFFSET_MASK, target;
	int rc;

	if (in_place(q, e))
		return blk_pwrite_full(q->n->fd, data, n, host + in);
	if (reads_zero_unallocated(q, e)) {
		/* a fresh cluster reads as zeroes: write just the new bytes */
		rc = qcow2_alloc(q, &target);
		if (!rc)
			rc = blk_pwrite_full(q->n->fd, data, n, target + in);
		return rc ? rc : qcow2_set_entry(q, g, e, target | QCOW2_OFLAG_COPIED);
	}
	rc = qcow2_read_cluster(q, g, e, cbuf);
	if (rc)
		return rc;
	memcpy(cbuf + in, data, n);
	if (host && (e & QCOW2_OFLAG_COPIED) && !(e & QCOW2_OFLAG_COMPRESSED)) {
		target = host; /* an allocated zero cluster: fill it in place */
		e &= ~QCOW2_OFFSET_MASK; /* nothing to release */
	} else {
		rc = qcow2_alloc(q, &target);
		if (rc)
			return rc;
	}
	rc = blk_pwrite_full(q->n->fd, cbuf, q->cs, target);
	return rc ? rc : qcow2_set_entry(q, g, e, target | QCOW2_OFLAG_COPIED);
}

int qcow2_write(struct qcow2 *q, uint64_t off, const uint8_t *buf, uint64_t len)
{
	uint8_t *cbuf = malloc(q->cs);
	int rc = cbuf ? 0 : -ENOMEM;

	while (!rc && len) {
		uint64_t g = off / q->cs, e;
		uint32_t in = (uint32_t)(off % q->cs);
		uint32_t n = (uint32_t)MIN_U64(len, q->cs - in);

		rc = qcow2_entry(q, g, &e);
		if (!rc)
			rc = write_cluster(q, g, e, in, n, buf, cbuf);
		off += n;
		buf += n;
		len -= n;
	}
	free(cbuf);
	return rc;
}

/* Zero or discard a whole guest cluster g. */
static int zero_cluster(struct qcow2 *q, uint64_t g, bool discard)
{
	uint64_t e, host;
	int rc = qcow2_entry(q, g, &e);

	if (rc)
		return rc;
	host = e & QCOW2_OFFSET_MASK;
	if ((e & QCOW2_OFLAG_ZERO) && !(e & QCOW2_OFLAG_COMPRESSED))
		return 0; /* already zero */
	if (!e && (discard || !q->n->backing))
		return 0; /* unallocated already reads as zeroes (or may stay) */
	if (in_place(q, e))
		return qcow2_set_entry(q, g, e, host | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO);
	return qcow2_set_entry(q, g, e, QCOW2_OFLAG_ZERO);
}

int qcow2_zero(struct qcow2 *q, uint64_t off, uint64_t len, bool discard)
{
	uint8_t *zero = calloc(1, q->cs);
	int rc = zero ? 0 : -ENOMEM;

	while (!rc && len) {
		uint32_t in = (uint32_t)(off % q->cs);
		uint32_t n = (uint32_t)MIN_U64(len, q->cs - in);

		if (in || n < q->cs || q->h.version < 3) {
			if (!discard)
				rc = qcow2_write(q, off, zero, n);
		} else {
			rc = zero_cluster(q, off / q->cs, discard);
		}
		off += n;
		len -= n;
	}
	free(zero);
	return rc;
}
