/* image_check.c - `xvm image info` and `check`: the backing chain, and qcow2 refcounts recomputed from L1/L2. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "block/qcow2.h"
#include "xvm/log.h"
#include "xvm/util.h"

#define CHECK_MAX_LOG 30

int blk_image_info(const char *path, struct blk_info **out, int *count)
{
	struct blk_node *top, *n;
	struct blk_info *v;
	int k = 0, rc = blk_node_open(path, BLK_FMT_AUTO, BLK_NODE_RO | BLK_NODE_NOLOCK,
				      0, NULL, NULL, &top);

	if (rc)
		return rc;
	for (n = top; n; n = n->backing)
		k++;
	v = calloc((size_t)k, sizeof(*v));
	if (!v) {
		blk_node_close(top);
		return -ENOMEM;
	}
	k = 0;
	for (n = top; n; n = n->backing, k++) {
		struct blk_info *i = &v[k];
		struct stat st;

		i->path = strdup(n->path);
		i->format = n->ops->format;
		i->size = n->size;
		if (!fstat(n->fd, &st)) {
			i->disk_bytes = (uint64_t)st.st_blocks * 512;
			i->file_readonly = !(st.st_mode & 0222);
		}
		if (i->format == BLK_FMT_QCOW2) {
			const struct qcow2 *q = n->priv;

			i->version = q->h.version;
			i->cluster_size = q->cs;
			if (q->h.backing[0])
				i->backing = strdup(q->h.backing);
			if (q->h.backing_fmt[0])
				i->backing_format = strdup(q->h.backing_fmt);
		}
	}
	blk_node_close(top);
	*out = v;
	*count = k;
	return 0;
}

void blk_info_free(struct blk_info *info, int n)
{
	for (int i = 0; i < n && info; i++) {
		free(info[i].path);
		free(info[i].backing);
		free(info[i].backing_format);
	}
	free(info);
}

struct counter {
	struct qcow2 *q;
	uint32_t *refs;
	uint64_t n;           /* entries in refs */
	uint64_t file_clusters;
	struct blk_check *res;
};

static void problem(struct counter *c, const char *fmt, uint64_t a, uint64_t b)
{
	if (++c->res->corruptions <= CHECK_MAX_LOG)
		log_err("check %s: %s (0x%llx, %llu)", c->q->n->path, fmt,
			(unsigned long long)a, (unsigned long long)b);
}

/* Count one reference to each host cluster of [off, off+len). */
static void ref(struct counter *c, uint64_t off, uint64_t len)
{
	for (uint64_t k = off / c->q->cs; k * c->q->cs < off + len; k++) {
		if (k >= c->n) {
			problem(c, "reference past the end of the file", k * c->q->cs, 0);
			continue;
		}
		c->refs[k]++;
	}
}

/* Count one L2 table and the clusters it references. */
static int count_l2(struct counter *c, uint64_t l2_off, bool active)
{
	struct qcow2 *q = c->q;
	uint8_t *t;
	int rc;

	if (l2_off & (q->cs - 1) || l2_off / q->cs >= c->n) {
		problem(c, "bad L2 table offset", l2_off, 0);
		return 0;
	}
	ref(c, l2_off, q->cs);
	rc = qcow2_l2_get(q, l2_off, &t);
	for (uint32_t i = 0; !rc && i < q->l2_entries; i++) {
		uint64_t e = qcow2_be64(t + i * 8), host = e & QCOW2_OFFSET_MASK, s, end;

		if (e & QCOW2_OFLAG_COMPRESSED) {
			if (e & QCOW2_OFLAG_COPIED)
				problem(c, "compressed cluster with the copied flag", e, i);
			qcow2_compressed_range(q, e, &s, &end);
			ref(c, s, end - s);
		} else if (host) {
			if (host & (q->cs - 1))
				problem(c, "misaligned data cluster", host, i);
			else
				ref(c, host, q->cs);
		} else if (active && (e & ~QCOW2_OFLAG_ZERO)) {
			problem(c, "unallocated L2 entry with flags set", e, i);
		}
	}
	return rc;
}

static int count_l1(struct counter *c, uint64_t l1_off, uint32_t l1_size, bool active)
{
	uint64_t *l1 = NULL;
	int rc;

	if ((l1_off & (c->q->cs - 1)) || (l1_off + (uint64_t)l1_size * 8 + c->q->cs - 1) / c->q->cs > c->n)
		return problem(c, "bad L1 table", l1_off, l1_size), 0;
	ref(c, l1_off, (uint64_t)l1_size * 8);
	if (active) {
		l1 = c->q->l1;
	} else {
		if (!(l1 = calloc(l1_size ? l1_size : 1, 8)))
			return -ENOMEM;
		rc = blk_pread_full(c->q->n->fd, l1, (size_t)l1_size * 8, l1_off);
		for (uint32_t i = 0; !rc && i < l1_size; i++)
			l1[i] = qcow2_be64((const uint8_t *)&l1[i]);
		if (rc) {
			free(l1);
			return rc;
		}
	}
	rc = 0;
	for (uint32_t i = 0; !rc && i < l1_size; i++)
		if (l1[i] & QCOW2_OFFSET_MASK)
			rc = count_l2(c, l1[i] & QCOW2_OFFSET_MASK, active);
	if (!active)
		free(l1);
	return rc;
}

/* Internal snapshots: their table and their L1/L2 trees. */
static int count_snapshots(struct counter *c)
{
	struct qcow2 *q = c->q;
	uint64_t off = q->h.snapshots_off;
	int rc = 0;

	for (uint32_t s = 0; !rc && s < q->h.nb_snapshots; s++) {
		uint8_t h[40];
		uint32_t extra, idl, namel;

		rc = blk_pread_full(q->n->fd, h, sizeof(h), off);
		if (rc)
			break;
		idl = (uint32_t)h[12] << 8 | h[13];
		namel = (uint32_t)h[14] << 8 | h[15];
		extra = (uint32_t)h[36] << 24 | (uint32_t)h[37] << 16 | (uint32_t)h[38] << 8 | h[39];
		rc = count_l1(c, qcow2_be64(h), (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 |
			      (uint32_t)h[10] << 8 | h[11], false);
		off += (40 + (uint64_t)extra + idl + namel + 7) & ~7ULL;
	}
	if (q->h.nb_snapshots)
		ref(c, q->h.snapshots_off, off - q->h.snapshots_off);
	return rc;
}

/* Compare counted references with stored refcounts, and the copied flags. */
static int compare(struct counter *c)
{
	struct qcow2 *q = c->q;
	uint64_t end = MAX(c->n, q->alloc_end), v;
	int rc = 0;

	for (uint64_t k = 0; !rc && k < end; k++) {
		uint64_t want = k < c->n ? c->refs[k] : 0;

		rc = qcow2_refcount_get(q, k, &v);
		if (rc)
			break;
		if (v < want)
			problem(c, "cluster referenced more often than its refcount", k * q->cs, v);
		else if (v > want && ++c->res->leaks <= CHECK_MAX_LOG)
			log_warn("check %s: leaked cluster 0x%llx (refcount %llu, %llu references)",
				 q->n->path, (unsigned long long)(k * q->cs),
				 (unsigned long long)v, (unsigned long long)want);
	}
	for (uint32_t i = 0; !rc && i < q->h.l1_size; i++) {
		uint64_t l2 = q->l1[i] & QCOW2_OFFSET_MASK;

		if (!l2 || l2 / q->cs >= c->n)
			continue;
		rc = qcow2_refcount_get(q, l2 / q->cs, &v);
		if (!rc && (v == 1) != !!(q->l1[i] & QCOW2_OFLAG_COPIED))
			problem(c, "L1 entry copied flag does not match the refcount", q->l1[i], v);
	}
	return rc;
}

static int check_qcow2(struct qcow2 *q, struct blk_check *res)
{
	struct counter c = { .q = q, .res = res };
	struct stat st;
	int rc;

	if (fstat(q->n->fd, &st))
		return -errno;
	c.file_clusters = ((uint64_t)st.st_size + q->cs - 1) / q->cs;
	c.n = c.file_clusters;
	c.refs = calloc(c.n ? c.n : 1, sizeof(*c.refs));
	if (!c.refs)
		return -ENOMEM;
	ref(&c, 0, q->cs);
	ref(&c, q->h.rt_off, (uint64_t)q->h.rt_clusters * q->cs);
	for (uint32_t i = 0; i < q->rt_entries; i++)
		if (q->rt[i] & QCOW2_OFFSET_MASK)
			ref(&c, q->rt[i] & QCOW2_OFFSET_MASK, q->cs);
	rc = count_l1(&c, q->h.l1_off, q->h.l1_size, true);
	if (!rc)
		rc = count_snapshots(&c);
	if (!rc)
		rc = compare(&c);
	res->clusters = c.n;
	res->refcounts_checked = true;
	free(c.refs);
	return rc;
}

int blk_image_check(const char *path, struct blk_check *res)
{
	struct blk_node *n;
	int rc = blk_node_open(path, BLK_FMT_AUTO, BLK_NODE_RO, 0, NULL, NULL, &n);

	memset(res, 0, sizeof(*res));
	if (rc)
		return rc;
	if (n->ops->format == BLK_FMT_QCOW2) {
		struct qcow2 *q = n->priv;

		pthread_mutex_lock(&q->lock);
		rc = check_qcow2(q, res);
		pthread_mutex_unlock(&q->lock);
		if (rc)
			log_err("check %s: %s", path, strerror(-rc));
	}
	blk_node_close(n);
	return rc;
}
