/* qcow2_alloc.c - qcow2 writes: cluster allocation, refcounts, ordered L1/L2 updates.
 *
 * Crash ordering (no dirty bit, no lazy refcounts): within one L2 table's
 * worth of a request, (1) refcounts of new clusters are raised and written,
 * new L2 tables and data clusters are written in full, (2) fdatasync, (3) the
 * L1 and L2 entries that point at them are written, (4) references dropped.
 * A crash at any point leaves at worst leaked clusters (refcount 1, nothing
 * pointing at them): `qemu-img check` reports them, `-r leaks` reclaims them,
 * and no acknowledged data is lost. New clusters are always taken at the end
 * of the file; a refcount block is placed at the first cluster it covers. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "xvm/log.h"
#include "xvm/trace.h"

struct batch {
	uint64_t l2_off;  /* the one L2 table the batch touches */
	int64_t l1_index; /* -1 when the L1 entry is unchanged */
	uint32_t n;
	uint32_t *idx;    /* L2 entries to write (values are in the cache) */
	uint32_t nfree;
	uint64_t (*frees)[2];
	uint32_t npunch;
	uint64_t *punch;  /* host clusters to deallocate after the update */
};

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

/* The L2 table for guest cluster g, allocating an empty one if needed. */
static int l2_for(struct qcow2 *q, struct batch *bt, uint64_t g, uint8_t **t)
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
		bt->l1_index = (int64_t)l1i;
	}
	bt->l2_off = off;
	return qcow2_l2_get(q, off, t);
}

/* Steps 2-4 of the ordering above; resets the batch. */
static int batch_commit(struct qcow2 *q, struct batch *bt)
{
	uint8_t be[8], *t;
	int rc = 0;

	if (bt->n || bt->l1_index >= 0) {
		rc = fdatasync(q->n->fd) ? -errno : 0;
		if (!rc && bt->l1_index >= 0) {
			qcow2_put_be64(be, q->l1[bt->l1_index]);
			rc = blk_pwrite_full(q->n->fd, be, 8, q->h.l1_off + (uint64_t)bt->l1_index * 8);
		}
		if (!rc && bt->n)
			rc = qcow2_l2_get(q, bt->l2_off, &t);
		for (uint32_t i = 0; !rc && i < bt->n; i++)
			rc = blk_pwrite_full(q->n->fd, t + bt->idx[i] * 8, 8,
					     bt->l2_off + bt->idx[i] * 8);
	}
	for (uint32_t i = 0; !rc && i < bt->nfree; i++)
		rc = qcow2_unref_range(q, bt->frees[i][0], bt->frees[i][1]);
	for (uint32_t i = 0; !rc && i < bt->npunch; i++)
		(void)fallocate(q->n->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)bt->punch[i], q->cs);
	if (rc) {
		q->broken = true;
		log_err("%s: metadata update failed: %s (no further writes)", q->n->path,
			strerror(-rc));
	}
	bt->n = bt->nfree = bt->npunch = 0;
	bt->l1_index = -1;
	bt->l2_off = 0;
	return rc;
}

static int batch_init(struct qcow2 *q, struct batch *bt)
{
	memset(bt, 0, sizeof(*bt));
	bt->l1_index = -1;
	bt->idx = calloc(q->l2_entries, sizeof(*bt->idx));
	bt->frees = calloc(q->l2_entries, sizeof(*bt->frees));
	bt->punch = calloc(q->l2_entries, sizeof(*bt->punch));
	return bt->idx && bt->frees && bt->punch ? 0 : -ENOMEM;
}

static void batch_free(struct batch *bt)
{
	free(bt->idx);
	free(bt->frees);
	free(bt->punch);
}

/* Set guest cluster g's L2 entry to v (written at commit), remembering what
 * the old entry e referenced so that it is released after the update. */
static int set_entry(struct qcow2 *q, struct batch *bt, uint64_t g, uint64_t e,
		     uint64_t v)
{
	uint8_t *t;
	int rc = l2_for(q, bt, g, &t);

	if (rc)
		return rc;
	qcow2_put_be64(t + (g % q->l2_entries) * 8, v);
	bt->idx[bt->n++] = (uint32_t)(g % q->l2_entries);
	if (e & QCOW2_OFLAG_COMPRESSED) {
		qcow2_compressed_range(q, e, &bt->frees[bt->nfree][0], &bt->frees[bt->nfree][1]);
		bt->nfree++;
	} else if ((e & QCOW2_OFFSET_MASK) && !(e & QCOW2_OFLAG_COPIED)) {
		bt->frees[bt->nfree][0] = e & QCOW2_OFFSET_MASK;
		bt->frees[bt->nfree][1] = (e & QCOW2_OFFSET_MASK) + q->cs;
		bt->nfree++;
	} else if ((e & QCOW2_OFFSET_MASK) && (v & QCOW2_OFLAG_ZERO)) {
		bt->punch[bt->npunch++] = e & QCOW2_OFFSET_MASK;
	}
	return 0;
}

static bool in_place(const struct qcow2 *q, uint64_t e)
{
	return !(e & QCOW2_OFLAG_COMPRESSED) && (e & QCOW2_OFFSET_MASK) &&
	       (e & QCOW2_OFLAG_COPIED) && !(q->h.version >= 3 && (e & QCOW2_OFLAG_ZERO));
}

/* Write part [in, in+n) of guest cluster g whose entry is e. */
static int write_cluster(struct qcow2 *q, struct batch *bt, uint64_t g, uint64_t e,
			 uint32_t in, uint32_t n, const uint8_t *data, uint8_t *cbuf)
{
	uint64_t host = e & QCOW2_OFFSET_MASK, target;
	const uint8_t *src = data;
	int rc;

	if (in_place(q, e))
		return blk_pwrite_full(q->n->fd, data, n, host + in);
	if (in || n < q->cs) {
		rc = qcow2_read_cluster(q, g, e, cbuf);
		if (rc)
			return rc;
		memcpy(cbuf + in, data, n);
		src = cbuf;
	}
	if (host && (e & QCOW2_OFLAG_COPIED) && !(e & QCOW2_OFLAG_COMPRESSED)) {
		target = host; /* an allocated zero cluster: fill it in place */
		e &= ~QCOW2_OFFSET_MASK; /* nothing to release */
	} else {
		rc = qcow2_alloc(q, &target);
		if (rc)
			return rc;
	}
	rc = blk_pwrite_full(q->n->fd, src, q->cs, target);
	if (rc)
		return rc;
	return set_entry(q, bt, g, e, target | QCOW2_OFLAG_COPIED);
}

/* Is guest cluster g in a different L2 table than the open batch? */
static bool other_table(const struct qcow2 *q, const struct batch *bt, uint64_t g)
{
	return bt->l2_off && (q->l1[g / q->l2_entries] & QCOW2_OFFSET_MASK) != bt->l2_off;
}

int qcow2_write(struct qcow2 *q, uint64_t off, const uint8_t *buf, uint64_t len)
{
	uint8_t *cbuf = malloc(q->cs);
	struct batch bt;
	int rc = batch_init(q, &bt);

	if (!cbuf)
		rc = -ENOMEM;
	while (!rc && len) {
		uint64_t g = off / q->cs, e;
		uint32_t in = (uint32_t)(off % q->cs);
		uint32_t n = (uint32_t)MIN_U64(len, q->cs - in);

		if (other_table(q, &bt, g))
			rc = batch_commit(q, &bt);
		if (!rc)
			rc = qcow2_entry(q, g, &e);
		if (!rc)
			rc = write_cluster(q, &bt, g, e, in, n, buf, cbuf);
		off += n;
		buf += n;
		len -= n;
	}
	if (!rc)
		rc = batch_commit(q, &bt);
	batch_free(&bt);
	free(cbuf);
	return rc;
}

/* Zero or discard a whole guest cluster g. */
static int zero_cluster(struct qcow2 *q, struct batch *bt, uint64_t g, bool discard)
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
		return set_entry(q, bt, g, e, host | QCOW2_OFLAG_COPIED | QCOW2_OFLAG_ZERO);
	return set_entry(q, bt, g, e, QCOW2_OFLAG_ZERO);
}

int qcow2_zero(struct qcow2 *q, uint64_t off, uint64_t len, bool discard)
{
	uint8_t *zero = calloc(1, q->cs);
	struct batch bt;
	int rc = batch_init(q, &bt);

	if (!zero)
		rc = -ENOMEM;
	while (!rc && len) {
		uint64_t g = off / q->cs;
		uint32_t in = (uint32_t)(off % q->cs);
		uint32_t n = (uint32_t)MIN_U64(len, q->cs - in);

		if (in || n < q->cs || q->h.version < 3) {
			if (!discard) {
				rc = batch_commit(q, &bt);
				if (!rc)
					rc = qcow2_write(q, off, zero, n);
			}
		} else {
			if (other_table(q, &bt, g))
				rc = batch_commit(q, &bt);
			if (!rc)
				rc = zero_cluster(q, &bt, g, discard);
		}
		off += n;
		len -= n;
	}
	if (!rc)
		rc = batch_commit(q, &bt);
	batch_free(&bt);
	free(zero);
	return rc;
}
