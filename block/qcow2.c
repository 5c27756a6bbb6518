/* qcow2.c - the qcow2 format driver: open (header, L1, refcount table, backing chain), map, read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "xvm/log.h"

#define ALIGN_UP_CS(x, bits) (((x) + (1ULL << (bits)) - 1) & ~((1ULL << (bits)) - 1))

static void qcow2_free(struct qcow2 *q)
{
	for (int i = 0; i < QCOW2_L2_CACHE; i++)
		free(q->l2c[i].data);
	for (int i = 0; i < QCOW2_RB_CACHE; i++)
		free(q->rbc[i].data);
	free(q->l1);
	free(q->rt);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

/* Read a big-endian u64 table of n entries at off into host order. */
static int load_table(int fd, uint64_t off, uint64_t n, uint64_t **out)
{
	uint64_t *t = calloc(n ? n : 1, 8);
	int rc;

	if (!t)
		return -ENOMEM;
	rc = blk_pread_full(fd, t, n * 8, off);
	for (uint64_t i = 0; !rc && i < n; i++)
		t[i] = qcow2_be64((const uint8_t *)&t[i]);
	if (rc)
		free(t);
	else
		*out = t;
	return rc;
}

/* Why a writable open must be refused, or NULL. */
static const char *write_blocker(const struct qcow2_hdr *h)
{
	if (h->incompat & QCOW2_INCOMPAT_DIRTY)
		return "image is dirty (not closed cleanly); repair it with 'qemu-img check -r all'";
	if (h->incompat & QCOW2_INCOMPAT_CORRUPT)
		return "image is marked corrupt; repair it with 'qemu-img check -r all'";
	if (h->nb_snapshots)
		return "image has internal snapshots; xvm opens those read-only";
	return NULL;
}

/* Open the backing file named in the header, relative to n's directory. */
static int open_backing(struct blk_node *n, const struct qcow2_hdr *h, int depth,
			const dev_t *devs, const ino_t *inos)
{
	enum blk_format fmt = BLK_FMT_AUTO;
	const char *slash = strrchr(n->path, '/');
	char *path;
	int rc;

	if (!strcmp(h->backing_fmt, "raw"))
		fmt = BLK_FMT_RAW;
	else if (!strcmp(h->backing_fmt, "qcow2"))
		fmt = BLK_FMT_QCOW2;
	else if (h->backing_fmt[0]) {
		log_err("open %s: backing format '%s' is not supported", n->path, h->backing_fmt);
		return -ENOTSUP;
	}
	if (h->backing[0] == '/' || !slash) {
		path = strdup(h->backing);
	} else if (asprintf(&path, "%.*s/%s", (int)(slash - n->path), n->path, h->backing) < 0) {
		path = NULL;
	}
	if (!path)
		return -ENOMEM;
	rc = blk_node_open(path, fmt, BLK_NODE_RO | (n->nolock ? BLK_NODE_NOLOCK : 0),
			   depth, devs, inos, &n->backing);
	free(path);
	return rc;
}

/* Header, tables and writable-open checks. 0 or -errno (logged). */
static int load_meta(struct blk_node *n, struct qcow2 *q, uint64_t fsize)
{
	size_t len = (size_t)MIN_U64(fsize, 2u << 20);
	uint8_t *buf = malloc(len ? len : 1);
	const char *why = NULL;
	int rc;

	if (!buf)
		return -ENOMEM;
	rc = blk_pread_full(n->fd, buf, len, 0);
	if (!rc) {
		rc = qcow2_hdr_parse(buf, len, &q->h, &why);
		if (rc)
			log_err("open %s: %s%s", n->path,
				rc == -ENOTSUP ? "" : "corrupt qcow2 header: ", why);
	} else {
		log_err("open %s: %s", n->path, strerror(-rc));
	}
	free(buf);
	if (rc)
		return rc;
	if (!n->readonly && (why = write_blocker(&q->h))) {
		log_err("open %s: %s", n->path, why);
		return -EROFS;
	}
	if (q->h.l1_off + (uint64_t)q->h.l1_size * 8 > ALIGN_UP_CS(fsize, q->h.cluster_bits) ||
	    q->h.rt_off + ((uint64_t)q->h.rt_clusters << q->h.cluster_bits) >
		    ALIGN_UP_CS(fsize, q->h.cluster_bits)) {
		log_err("open %s: corrupt qcow2 header: tables past the end of the file", n->path);
		return -EINVAL;
	}
	q->cs = 1u << q->h.cluster_bits;
	q->l2_entries = q->cs / 8;
	q->rt_entries = q->h.rt_clusters * (q->cs / 8);
	q->rb_entries = (uint64_t)q->cs * 8 >> q->h.refcount_order;
	q->alloc_end = (fsize + q->cs - 1) / q->cs;
	rc = load_table(n->fd, q->h.l1_off, q->h.l1_size, &q->l1);
	if (!rc)
		rc = load_table(n->fd, q->h.rt_off, q->rt_entries, &q->rt);
	if (rc)
		log_err("open %s: reading tables: %s", n->path, strerror(-rc));
	return rc;
}

/* Clear autoclear feature bits we do not maintain (the spec asks writers to). */
static int clear_autoclear(struct blk_node *n, struct qcow2 *q)
{
	static const uint8_t zero[8];
	int rc;

	if (n->readonly || q->h.version < 3 || !q->h.autoclear)
		return 0;
	rc = blk_pwrite_full(n->fd, zero, 8, 88);
	if (!rc && fdatasync(n->fd))
		rc = -errno;
	if (rc)
		log_err("open %s: clearing autoclear features: %s", n->path, strerror(-rc));
	q->h.autoclear = 0;
	return rc;
}

/* A writable image hands out clusters from the end of the file: move that
 * point past any cluster refcounted beyond it (preallocated metadata). */
static int find_alloc_end(struct qcow2 *q)
{
	uint64_t last = 0, v;
	int rc = 0;

	for (uint32_t ti = 0; ti < q->rt_entries; ti++)
		if (q->rt[ti] & QCOW2_OFFSET_MASK)
			last = ti;
	for (uint64_t k = q->alloc_end; !rc && k < (last + 1) * q->rb_entries; k++) {
		rc = qcow2_refcount_get(q, k, &v);
		if (!rc && v)
			q->alloc_end = k + 1;
	}
	if (rc)
		log_err("open %s: reading refcounts: %s", q->n->path, strerror(-rc));
	return rc;
}

static int qcow2_open(struct blk_node *n, int depth, const dev_t *devs,
		      const ino_t *inos)
{
	struct qcow2 *q = calloc(1, sizeof(*q));
	struct stat st;
	int rc;

	if (!q)
		return -ENOMEM;
	pthread_mutex_init(&q->lock, NULL);
	q->n = n;
	if (fstat(n->fd, &st)) {
		rc = -errno;
		log_err("open %s: %s", n->path, strerror(-rc));
		goto fail;
	}
	q->file_size = (uint64_t)st.st_size;
	rc = load_meta(n, q, (uint64_t)st.st_size);
	if (!rc && q->h.backing[0])
		rc = open_backing(n, &q->h, depth, devs, inos);
	if (!rc && !n->readonly)
		rc = find_alloc_end(q);
	if (!rc)
		rc = clear_autoclear(n, q);
	if (rc)
		goto fail;
	n->size = q->h.size;
	n->priv = q;
	return 0;
fail:
	if (n->backing)
		blk_node_close(n->backing);
	n->backing = NULL;
	qcow2_free(q);
	return rc;
}

/* Commit pending metadata, then fdatasync. 0 or -errno. */
static int qcow2_flush_locked(struct qcow2 *q)
{
	int rc = qcow2_commit(q);

	if (!rc && fdatasync(q->n->fd))
		rc = -errno;
	return rc;
}

static int qcow2_flush(struct blk_node *n)
{
	struct qcow2 *q = n->priv;
	int rc;

	pthread_mutex_lock(&q->lock);
	rc = qcow2_flush_locked(q);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static void qcow2_close(struct blk_node *n)
{
	struct qcow2 *q = n->priv;

	if (!n->readonly) {
		int rc = qcow2_flush_locked(q);

		if (rc)
			log_err("close %s: %s", n->path, strerror(-rc));
	}
	qcow2_free(q);
}

/* Classify guest cluster entry e for a fast request (see enum ext_kind). */
static enum ext_kind classify(const struct qcow2 *q, uint64_t e, bool write)
{
	if (e & QCOW2_OFLAG_COMPRESSED)
		return EXT_SLOW;
	if (q->h.version >= 3 && (e & QCOW2_OFLAG_ZERO))
		return write ? EXT_SLOW : EXT_ZERO;
	if (e & QCOW2_OFFSET_MASK)
		return write && !(e & QCOW2_OFLAG_COPIED) ? EXT_SLOW : EXT_DATA;
	return write || q->n->backing ? EXT_SLOW : EXT_ZERO;
}

static int map_locked(struct qcow2 *q, bool write, uint64_t off, uint64_t len,
		      struct blk_extent *ext)
{
	uint64_t g = off / q->cs, in = off % q->cs, e, e2;
	int rc = qcow2_entry(q, g, &e);

	if (rc)
		return rc;
	ext->kind = classify(q, e, write);
	ext->fd = q->n->fd;
	ext->host_off = (e & QCOW2_OFFSET_MASK) + in;
	ext->len = MIN_U64(len, q->cs - in);
	if (ext->kind == EXT_DATA && (e & QCOW2_OFFSET_MASK & (q->cs - 1)))
		return -EIO;
	if (ext->kind == EXT_SLOW && !write && !e && q->n->backing) {
		struct blk_node *b = q->n->backing;

		if (off >= b->size) {
			ext->kind = EXT_ZERO;
			return 0;
		}
		return b->ops->map(b, false, off, MIN_U64(ext->len, b->size - off), ext);
	}
	if (ext->kind == EXT_SLOW)
		return 0;
	while (ext->len < len) { /* extend over clusters of the same kind */
		g++;
		if (qcow2_entry(q, g, &e2) || classify(q, e2, write) != ext->kind)
			break;
		if (ext->kind == EXT_DATA &&
		    (e2 & QCOW2_OFFSET_MASK) != (e & QCOW2_OFFSET_MASK) + (ext->len + in))
			break;
		ext->len += MIN_U64(len - ext->len, q->cs);
	}
	return 0;
}

static int qcow2_map(struct blk_node *n, bool write, uint64_t off, uint64_t len,
		     struct blk_extent *ext)
{
	struct qcow2 *q = n->priv;
	int rc;

	pthread_mutex_lock(&q->lock);
	rc = write && q->broken ? -EIO : map_locked(q, write, off, len, ext);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

static int read_range(struct qcow2 *q, uint64_t off, uint8_t *buf, uint64_t len)
{
	uint8_t *cbuf = NULL;
	int rc = 0;

	while (!rc && len) {
		uint64_t g = off / q->cs, in = off % q->cs, e;
		uint64_t n = MIN_U64(len, q->cs - in);

		rc = qcow2_entry(q, g, &e);
		if (rc)
			break;
		if (classify(q, e, false) == EXT_DATA) {
			rc = blk_pread_full(q->n->fd, buf, (size_t)n, (e & QCOW2_OFFSET_MASK) + in);
		} else if (!e && q->n->backing) {
			rc = blk_node_read(q->n->backing, buf, n, off);
		} else {
			if (!cbuf && !(cbuf = malloc(q->cs))) {
				rc = -ENOMEM;
				break;
			}
			rc = qcow2_read_cluster(q, g, e, cbuf);
			memcpy(buf, cbuf + in, (size_t)n);
		}
		off += n;
		buf += n;
		len -= n;
	}
	free(cbuf);
	return rc;
}

static int qcow2_rw(struct blk_node *n, enum blk_op op, uint64_t off, void *buf,
		    uint64_t len)
{
	struct qcow2 *q = n->priv;
	int rc;

	pthread_mutex_lock(&q->lock);
	if (op == BLK_OP_READ)
		rc = read_range(q, off, buf, len);
	else if (q->broken)
		rc = -EIO;
	else if (op == BLK_OP_WRITE)
		rc = qcow2_write(q, off, buf, len);
	else if (op == BLK_OP_DISCARD || op == BLK_OP_WRITE_ZEROES)
		rc = qcow2_zero(q, off, len, op == BLK_OP_DISCARD);
	else
		rc = -EINVAL;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

const struct blk_format_ops blk_qcow2_ops = {
	.name = "qcow2",
	.format = BLK_FMT_QCOW2,
	.open = qcow2_open,
	.close = qcow2_close,
	.map = qcow2_map,
	.rw = qcow2_rw,
	.flush = qcow2_flush,
};
