/* qcow2_meta.c - the qcow2 header parser, L2 and refcount-block caches, cluster reads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "block/qcow2.h"

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t qcow2_be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

void qcow2_put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* Header extensions from off to the end marker. 0 or -EINVAL. */
static int parse_exts(const uint8_t *buf, size_t len, size_t off,
		      struct qcow2_hdr *h, const char **why)
{
	while (off + 8 <= len) {
		uint32_t type = be32(buf + off), elen = be32(buf + off + 4);

		off += 8;
		if (type == QCOW2_EXT_END)
			return 0;
		if (elen > len - off) {
			*why = "header extension runs past the first cluster";
			return -EINVAL;
		}
		if (type == QCOW2_EXT_BACKING_FMT) {
			if (elen >= sizeof(h->backing_fmt) || memchr(buf + off, 0, elen)) {
				*why = "bad backing format extension";
				return -EINVAL;
			}
			memcpy(h->backing_fmt, buf + off, elen);
			h->backing_fmt[elen] = 0;
		} else if (type == 0x23852875u) {
			h->has_bitmaps = true;
		}
		off += ((size_t)elen + 7) & ~(size_t)7;
	}
	if (off > len && h->version >= 3) {
		*why = "header extensions run past the first cluster";
		return -EINVAL;
	}
	return 0;
}

static int check_fields(const struct qcow2_hdr *h, const char **why)
{
	uint64_t cs = 1ULL << h->cluster_bits, l2e = cs / 8, need;

	if (h->crypt) {
		*why = "encrypted images are not supported";
		return -ENOTSUP;
	}
	if (h->incompat & ~(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT)) {
		*why = h->incompat & (QCOW2_INCOMPAT_DATA_FILE | QCOW2_INCOMPAT_COMPRESSION |
				      QCOW2_INCOMPAT_EXTL2) ?
			"uses an unsupported feature (external data file, zstd or extended L2)" :
			"unknown incompatible feature bits";
		return -ENOTSUP;
	}
	if (h->size > (1ULL << 61)) {
		*why = "virtual size too large";
		return -EINVAL;
	}
	need = (h->size + cs * l2e - 1) / (cs * l2e);
	if (h->l1_size < need || (uint64_t)h->l1_size * 8 > QCOW2_MAX_L1_BYTES) {
		*why = "L1 table size does not match the virtual size";
		return -EINVAL;
	}
	if ((h->l1_off & (cs - 1)) || (h->l1_size && !h->l1_off) ||
	    h->l1_off > QCOW2_OFFSET_MASK) {
		*why = "misaligned L1 table";
		return -EINVAL;
	}
	if ((h->rt_off & (cs - 1)) || !h->rt_off || h->rt_off > QCOW2_OFFSET_MASK ||
	    !h->rt_clusters || (uint64_t)h->rt_clusters * cs > QCOW2_MAX_RT_BYTES) {
		*why = "bad refcount table";
		return -EINVAL;
	}
	if (h->nb_snapshots > 65536 || (h->nb_snapshots && (h->snapshots_off & 7))) {
		*why = "bad snapshot table";
		return -EINVAL;
	}
	if (h->refcount_order > 6) {
		*why = "bad refcount order";
		return -EINVAL;
	}
	return 0;
}

int qcow2_hdr_parse(const uint8_t *buf, size_t len, struct qcow2_hdr *h,
		    const char **why)
{
	size_t ext;

	memset(h, 0, sizeof(*h));
	if (len < 72 || be32(buf) != QCOW2_MAGIC) {
		*why = "not a qcow2 image (bad magic)";
		return -EINVAL;
	}
	h->version = be32(buf + 4);
	h->backing_off = qcow2_be64(buf + 8);
	h->backing_len = be32(buf + 16);
	h->cluster_bits = be32(buf + 20);
	h->size = qcow2_be64(buf + 24);
	h->crypt = be32(buf + 32);
	h->l1_size = be32(buf + 36);
	h->l1_off = qcow2_be64(buf + 40);
	h->rt_off = qcow2_be64(buf + 48);
	h->rt_clusters = be32(buf + 56);
	h->nb_snapshots = be32(buf + 60);
	h->snapshots_off = qcow2_be64(buf + 64);
	h->refcount_order = 4;
	h->header_len = 72;
	if (h->version != 2 && h->version != 3) {
		*why = "unsupported qcow2 version";
		return -ENOTSUP;
	}
	if (h->cluster_bits < 9 || h->cluster_bits > 21) {
		*why = "bad cluster size";
		return -EINVAL;
	}
	if (len > (1ULL << h->cluster_bits))
		len = (size_t)1 << h->cluster_bits;
	if (h->version == 3) {
		if (len < QCOW2_V3_HEADER_LEN) {
			*why = "truncated header";
			return -EINVAL;
		}
		h->incompat = qcow2_be64(buf + 72);
		h->compat = qcow2_be64(buf + 80);
		h->autoclear = qcow2_be64(buf + 88);
		h->refcount_order = be32(buf + 96);
		h->header_len = be32(buf + 100);
		if (h->header_len < QCOW2_V3_HEADER_LEN || h->header_len > len) {
			*why = "bad header length";
			return -EINVAL;
		}
		if (h->header_len > 104 && buf[104] != 0) {
			*why = "unsupported compression type (only deflate)";
			return -ENOTSUP;
		}
	}
	if (check_fields(h, why))
		return h->crypt || h->incompat ? -ENOTSUP : -EINVAL;
	ext = h->header_len;
	if (parse_exts(buf, len, ext, h, why))
		return -EINVAL;
	if (h->backing_off) {
		if (h->backing_len == 0 || h->backing_len > 1023 ||
		    h->backing_off > len || h->backing_len > len - h->backing_off ||
		    memchr(buf + h->backing_off, 0, h->backing_len)) {
			*why = "bad backing file name";
			return -EINVAL;
		}
		memcpy(h->backing, buf + h->backing_off, h->backing_len);
		h->backing[h->backing_len] = 0;
	}
	return 0;
}

/* Find or load a cached cluster-sized table at off. */
static int cache_get(struct qcow2 *q, struct qcow2_cache_slot *c, int n,
		     uint64_t off, uint8_t **out)
{
	struct qcow2_cache_slot *victim = NULL;
	int rc;

	for (int i = 0; i < n; i++) {
		if (c[i].off == off && c[i].data) {
			c[i].used = ++q->stamp;
			*out = c[i].data;
			return 0;
		}
		if (c[i].dirty || (victim && !victim->data))
			continue; /* never evict a dirty table; an empty slot wins */
		if (!victim || !c[i].data || c[i].used < victim->used)
			victim = &c[i];
	}
	if (!victim)
		return -EBUSY; /* every slot dirty: the writer commits before that */
	if (!victim->data && !(victim->data = malloc(q->cs)))
		return -ENOMEM;
	victim->off = 0;
	rc = blk_pread_full(q->n->fd, victim->data, q->cs, off);
	if (rc)
		return rc;
	victim->off = off;
	victim->used = ++q->stamp;
	*out = victim->data;
	return 0;
}

int qcow2_l2_get(struct qcow2 *q, uint64_t l2_off, uint8_t **table)
{
	return cache_get(q, q->l2c, QCOW2_L2_CACHE, l2_off, table);
}

int qcow2_rb_get(struct qcow2 *q, uint64_t rb_off, uint8_t **block)
{
	return cache_get(q, q->rbc, QCOW2_RB_CACHE, rb_off, block);
}

int qcow2_entry(struct qcow2 *q, uint64_t g, uint64_t *entry)
{
	uint64_t l1i = g / q->l2_entries, l2_off;
	uint8_t *t;
	int rc;

	*entry = 0;
	if (l1i >= q->h.l1_size)
		return -EIO;
	l2_off = q->l1[l1i] & QCOW2_OFFSET_MASK;
	if (!l2_off)
		return 0;
	if (l2_off & (q->cs - 1))
		return -EIO;
	rc = qcow2_l2_get(q, l2_off, &t);
	if (rc)
		return rc;
	*entry = qcow2_be64(t + (g % q->l2_entries) * 8);
	return 0;
}

void qcow2_compressed_range(const struct qcow2 *q, uint64_t e, uint64_t *start,
			    uint64_t *end)
{
	unsigned x = 62 - (q->h.cluster_bits - 8);
	uint64_t off = e & ((1ULL << x) - 1);
	uint64_t nsect = ((e >> x) & ((1ULL << (q->h.cluster_bits - 8)) - 1)) + 1;

	*start = off;
	*end = (off & ~511ULL) + nsect * 512;
}

static int inflate_cluster(struct qcow2 *q, uint64_t e, uint8_t *buf)
{
	uint64_t start, end;
	z_stream z = { 0 };
	uint8_t *in;
	int rc, zr;

	qcow2_compressed_range(q, e, &start, &end);
	in = malloc((size_t)(end - start));
	if (!in)
		return -ENOMEM;
	rc = blk_pread_full(q->n->fd, in, (size_t)(end - start), start);
	if (rc)
		goto out;
	rc = -EIO;
	if (inflateInit2(&z, -15) != Z_OK)
		goto out;
	z.next_in = in;
	z.avail_in = (uInt)(end - start);
	z.next_out = buf;
	z.avail_out = q->cs;
	zr = inflate(&z, Z_FINISH);
	if ((zr == Z_STREAM_END || zr == Z_BUF_ERROR) && z.avail_out == 0)
		rc = 0;
	inflateEnd(&z);
out:
	free(in);
	return rc;
}

int qcow2_read_cluster(struct qcow2 *q, uint64_t g, uint64_t e, uint8_t *buf)
{
	uint64_t host = e & QCOW2_OFFSET_MASK, off = g * q->cs;

	if (e & QCOW2_OFLAG_COMPRESSED)
		return inflate_cluster(q, e, buf);
	if ((e & QCOW2_OFLAG_ZERO) && q->h.version >= 3) {
		memset(buf, 0, q->cs);
		return 0;
	}
	if (host)
		return blk_pread_full(q->n->fd, buf, q->cs, host);
	if (q->n->backing)
		return blk_node_read(q->n->backing, buf, q->cs, off);
	memset(buf, 0, q->cs);
	return 0;
}

int qcow2_refcount_get(struct qcow2 *q, uint64_t cluster, uint64_t *rc)
{
	uint64_t ti = cluster / q->rb_entries, bi = cluster % q->rb_entries, rb;
	unsigned bits = 1u << q->h.refcount_order;
	uint8_t *blk;
	int r;

	*rc = 0;
	if (ti >= q->rt_entries || !(rb = q->rt[ti] & QCOW2_OFFSET_MASK))
		return 0;
	r = qcow2_rb_get(q, rb, &blk);
	if (r)
		return r;
	if (bits >= 8) {
		const uint8_t *p = blk + bi * (bits / 8);

		for (unsigned i = 0; i < bits / 8; i++)
			*rc = *rc << 8 | p[i];
	} else {
		uint64_t bit = bi * bits;

		*rc = (blk[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
	}
	return 0;
}
