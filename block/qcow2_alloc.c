/* qcow2_alloc.c - qcow2 allocation: refcounts, refcount table growth, pending L1/L2 changes and their commit.
 *
 * Crash ordering (no dirty bit, no lazy refcounts): (1) refcounts of new
 * clusters are raised and written at once, new L2 tables and data written;
 * the L1/L2 entries that point at them change only in memory (dirty L2 tables
 * stay in the cache). At a commit (guest flush, close, or when too much is
 * pending): (2) fdatasync, (3) the dirty L2 tables and L1 entries are written,
 * (4) references the changes dropped are released. A crash at any point
 * leaves at worst leaked clusters (refcount 1, nothing pointing at them):
 * `qemu-img check` reports them, `-r leaks` reclaims them, and nothing
 * written before the last completed flush is lost. New clusters are always
 * fresh ones at the end of the file (so they read as zeroes until written);
 * a refcount block is placed at the first cluster it covers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "xvm/log.h"
#include "xvm/trace.h"


/* Store refcount v for entry bi of a refcount block buffer; at and n get the
 * bytes that changed. */
static void rb_put(const struct qcow2 *q, uint8_t *blk, uint64_t bi, uint64_t v,
		   size_t *at, size_t *n)
{
	unsigned bits = 1u << q->h.refcount_order;

	if (bits >= 8) {
		*at = bi * (bits / 8);
		*n = bits / 8;
		for (size_t i = *n; i-- > 0; v >>= 8)
			blk[*at + i] = (uint8_t)v;
	} else {
		uint64_t bit = bi * bits;
		uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));

		*at = bit / 8;
		*n = 1;
		blk[*at] = (uint8_t)((blk[*at] & ~mask) | ((v << (bit % 8)) & mask));
	}
}

int qcow2_refcount_set(struct qcow2 *q, uint64_t cluster, uint64_t v)
{
	uint64_t ti = cluster / q->rb_entries, rb;
	unsigned bits = 1u << q->h.refcount_order;
	uint8_t *blk;
	size_t at, n;
	int rc;

	if (ti >= q->rt_entries || !(rb = q->rt[ti] & QCOW2_OFFSET_MASK))
		return -EIO;
	if (bits < 64 && v >> bits)
		return -ERANGE;
	rc = qcow2_rb_get(q, rb, &blk);
	if (rc)
		return rc;
	rb_put(q, blk, cluster % q->rb_entries, v, &at, &n);
	return blk_pwrite_full(q->n->fd, blk + at, n, rb + at);
}

/* Sizes for a grown refcount table at cluster e: nc table clusters and k new
 * refcount blocks right after it, covering themselves and cluster need. */
static void grow_sizes(const struct qcow2 *q, uint64_t e, uint64_t *nc, uint64_t *k)
{
	uint64_t entries = MAX_U64((uint64_t)q->rt_entries * 2, e / q->rb_entries + 1);

	*k = 0;
	for (;;) {
		uint64_t last_ti;

		*nc = (entries * 8 + q->cs - 1) / q->cs;
		last_ti = (e + *nc + *k - 1) / q->rb_entries;
		if (last_ti - e / q->rb_entries + 1 == *k && *nc * q->cs / 8 > last_ti)
			return;
		*k = last_ti - e / q->rb_entries + 1;
		entries = MAX_U64(entries, last_ti + 1);
	}
}

/* Move the refcount table to the end of the file, larger, with the new
 * refcount blocks it needs: blocks and table written and synced, then the
 * header switched in one write, synced, then the old table released. */
static int grow_reftable(struct qcow2 *q)
{
	uint64_t e = q->alloc_end, ti0 = e / q->rb_entries, nc, k, old = q->h.rt_off;
	uint32_t old_clusters = q->h.rt_clusters;
	uint8_t *tbl, *blk, hdr[12];
	uint64_t *rt;
	int rc = 0;

	grow_sizes(q, e, &nc, &k);
	if (nc * q->cs > QCOW2_MAX_RT_BYTES) {
		log_err("%s: refcount table cannot grow past %u MiB", q->n->path,
			QCOW2_MAX_RT_BYTES >> 20);
		return -ENOSPC;
	}
	tbl = calloc(nc, q->cs);
	blk = malloc(q->cs);
	rt = calloc(nc * q->cs / 8, 8);
	if (!tbl || !blk || !rt) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(rt, q->rt, (size_t)q->rt_entries * 8);
	for (uint64_t j = 0; j < k; j++)
		rt[ti0 + j] = (e + nc + j) * q->cs;
	for (uint64_t i = 0; i < nc * q->cs / 8; i++)
		qcow2_put_be64(tbl + i * 8, rt[i]);
	for (uint64_t j = 0; !rc && j < k; j++) { /* new clusters: [e, e+nc+k) */
		size_t at, n;

		memset(blk, 0, q->cs);
		for (uint64_t c = MAX_U64(e, (ti0 + j) * q->rb_entries);
		     c < e + nc + k && c < (ti0 + j + 1) * q->rb_entries; c++)
			rb_put(q, blk, c % q->rb_entries, 1, &at, &n);
		rc = blk_pwrite_full(q->n->fd, blk, q->cs, (e + nc + j) * q->cs);
	}
	if (!rc)
		rc = blk_pwrite_full(q->n->fd, tbl, nc * q->cs, e * q->cs);
	if (!rc)
		rc = fdatasync(q->n->fd) ? -errno : 0;
	qcow2_put_be64(hdr, e * q->cs);
	hdr[8] = (uint8_t)(nc >> 24);
	hdr[9] = (uint8_t)(nc >> 16);
	hdr[10] = (uint8_t)(nc >> 8);
	hdr[11] = (uint8_t)nc;
	if (!rc)
		rc = blk_pwrite_full(q->n->fd, hdr, sizeof(hdr), 48);
	if (!rc)
		rc = fdatasync(q->n->fd) ? -errno : 0;
	if (rc)
		goto out;
	free(q->rt);
	q->rt = rt;
	rt = NULL;
	q->rt_entries = (uint32_t)(nc * q->cs / 8);
	q->h.rt_off = e * q->cs;
	q->h.rt_clusters = (uint32_t)nc;
	q->alloc_end = e + nc + k;
	rc = qcow2_unref_range(q, old, old + (uint64_t)old_clusters * q->cs);
out:
	free(tbl);
	free(blk);
	free(rt);
	return rc;
}

/* Put a refcount block at cluster c (the first of the range it covers):
 * written zeroed, its own refcount set, synced, then linked in the table. */
static int new_refblock(struct qcow2 *q, uint64_t ti, uint64_t c)
{
	uint64_t off = c * q->cs;
	uint8_t *zero = calloc(1, q->cs), be[8];
	int rc;

	if (!zero)
		return -ENOMEM;
	rc = blk_pwrite_full(q->n->fd, zero, q->cs, off);
	free(zero);
	if (rc)
		return rc;
	for (int i = 0; i < QCOW2_RB_CACHE; i++)
		if (q->rbc[i].off == off)
			q->rbc[i].off = 0;
	q->rt[ti] = off;
	rc = qcow2_refcount_set(q, c, 1);
	if (!rc)
		rc = fdatasync(q->n->fd) ? -errno : 0;
	qcow2_put_be64(be, off);
	if (!rc)
		rc = blk_pwrite_full(q->n->fd, be, 8, q->h.rt_off + ti * 8);
	if (rc)
		q->rt[ti] = 0;
	return rc;
}

int qcow2_alloc(struct qcow2 *q, uint64_t *host_off)
{
	for (;;) {
		uint64_t c = q->alloc_end, ti = c / q->rb_entries;
		int rc;

		if (ti >= q->rt_entries) {
			rc = grow_reftable(q);
			if (rc)
				return rc;
			continue;
		}
		if (!(q->rt[ti] & QCOW2_OFFSET_MASK)) {
			rc = new_refblock(q, ti, c);
			if (rc)
				return rc;
			q->alloc_end++;
			continue;
		}
		rc = qcow2_refcount_set(q, c, 1);
		if (rc)
			return rc;
		q->alloc_end++;
		if (q->alloc_end * q->cs > q->file_size) { /* whole clusters in the file */
			if (ftruncate(q->n->fd, (off_t)(q->alloc_end * q->cs)))
				return -errno;
			q->file_size = q->alloc_end * q->cs;
		}
		*host_off = c * q->cs;
		XVM_PROBE(QCOW2_ALLOC, q->n->path, *host_off);
		return 0;
	}
}

int qcow2_unref_range(struct qcow2 *q, uint64_t start, uint64_t end)
{
	for (uint64_t c = start / q->cs; c * q->cs < end; c++) {
		uint64_t v;
		int rc = qcow2_refcount_get(q, c, &v);

		if (!rc && v)
			rc = qcow2_refcount_set(q, c, v - 1);
		if (rc)
			return rc;
	}
	return 0;
}

/* The L2 table for guest cluster g, allocating an empty one if needed
 * (its L1 entry is then pending). */
static int l2_for(struct qcow2 *q, uint64_t g, uint64_t *l2_off, uint8_t **t)
{
	uint64_t l1i = g / q->l2_entries, off = q->l1[l1i] & QCOW2_OFFSET_MASK;
	int rc;

	if (!off) {
		uint8_t *zero = calloc(1, q->cs);

		if (!zero)
			return -ENOMEM;
		rc = qcow2_alloc(q, &off);
		if (!rc)
			rc = blk_pwrite_full(q->n->fd, zero, q->cs, off);
		free(zero);
		if (rc)
			return rc;
		q->l1[l1i] = off | QCOW2_OFLAG_COPIED;
		q->l1_dirty[q->n_l1_dirty++] = (uint32_t)l1i;
	}
	*l2_off = off;
	return qcow2_l2_get(q, off, t);
}

int qcow2_commit(struct qcow2 *q)
{
	uint8_t be[8];
	int rc = 0;

	if (!q->l2_dirty && !q->n_l1_dirty && !q->nfree)
		return 0;
	if (q->broken)
		return -EIO;
	rc = fdatasync(q->n->fd) ? -errno : 0;
	for (int i = 0; !rc && i < QCOW2_L2_CACHE; i++)
		if (q->l2c[i].dirty)
			rc = blk_pwrite_full(q->n->fd, q->l2c[i].data, q->cs, q->l2c[i].off);
	for (uint32_t i = 0; !rc && i < q->n_l1_dirty; i++) {
		qcow2_put_be64(be, q->l1[q->l1_dirty[i]]);
		rc = blk_pwrite_full(q->n->fd, be, 8, q->h.l1_off + (uint64_t)q->l1_dirty[i] * 8);
	}
	for (uint32_t i = 0; !rc && i < q->nfree; i++)
		rc = qcow2_unref_range(q, q->frees[i][0], q->frees[i][1]);
	if (rc) {
		q->broken = true;
		log_err("%s: metadata update failed: %s (no further writes)", q->n->path,
			strerror(-rc));
		return rc;
	}
	for (int i = 0; i < QCOW2_L2_CACHE; i++)
		q->l2c[i].dirty = false;
	q->l2_dirty = q->n_l1_dirty = q->nfree = 0;
	return 0;
}

/* Is there room to record one more change (else commit first)? */
static bool pending_full(const struct qcow2 *q)
{
	return q->l2_dirty >= QCOW2_L2_CACHE / 2 || q->n_l1_dirty >= QCOW2_PEND_MAX ||
	       q->nfree >= QCOW2_PEND_MAX;
}

int qcow2_set_entry(struct qcow2 *q, uint64_t g, uint64_t e, uint64_t v)
{
	uint64_t l2_off;
	uint8_t *t;
	int rc = pending_full(q) ? qcow2_commit(q) : 0;

	if (!rc)
		rc = l2_for(q, g, &l2_off, &t);
	if (rc)
		return rc;
	qcow2_put_be64(t + (g % q->l2_entries) * 8, v);
	for (int i = 0; i < QCOW2_L2_CACHE; i++)
		if (q->l2c[i].off == l2_off && q->l2c[i].data && !q->l2c[i].dirty) {
			q->l2c[i].dirty = true;
			q->l2_dirty++;
		}
	if (e & QCOW2_OFLAG_COMPRESSED) {
		qcow2_compressed_range(q, e, &q->frees[q->nfree][0], &q->frees[q->nfree][1]);
		q->nfree++;
	} else if ((e & QCOW2_OFFSET_MASK) && !(e & QCOW2_OFLAG_COPIED)) {
		q->frees[q->nfree][0] = e & QCOW2_OFFSET_MASK;
		q->frees[q->nfree][1] = (e & QCOW2_OFFSET_MASK) + q->cs;
		q->nfree++;
	} else if ((e & QCOW2_OFFSET_MASK) && (v & QCOW2_OFLAG_ZERO)) {
		/* the cluster now reads as zeroes: give its space back (before the
		   entry is written; an unflushed discard may show either content) */
		(void)fallocate(q->n->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)(e & QCOW2_OFFSET_MASK), q->cs);
	}
	return 0;
}
