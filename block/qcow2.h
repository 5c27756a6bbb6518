/* qcow2.h - inside the qcow2 driver: on-disk constants, the parsed header, driver state. */
#ifndef XVM_BLOCK_QCOW2_H
#define XVM_BLOCK_QCOW2_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "block/blk_int.h"

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_OFLAG_COPIED (1ULL << 63)
#define QCOW2_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW2_OFLAG_ZERO 1ULL
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ULL /* L1, L2, refcount table entries */
#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)
#define QCOW2_EXT_END 0
#define QCOW2_EXT_BACKING_FMT 0xe2792acau
#define QCOW2_EXT_FEATURES 0x6803f857u
#define QCOW2_MAX_L1_BYTES (32u << 20)   /* what QEMU accepts */
#define QCOW2_MAX_RT_BYTES (8u << 20)
#define QCOW2_V3_HEADER_LEN 104

/* The header and the extensions xvm understands, host byte order. */
struct qcow2_hdr {
	uint32_t version;
	uint64_t backing_off;
	uint32_t backing_len;
	uint32_t cluster_bits;
	uint64_t size;
	uint32_t crypt;
	uint32_t l1_size;
	uint64_t l1_off;
	uint64_t rt_off;
	uint32_t rt_clusters;
	uint32_t nb_snapshots;
	uint64_t snapshots_off;
	uint64_t incompat, compat, autoclear;
	uint32_t refcount_order;
	uint32_t header_len;
	char backing[1024]; /* "" when none */
	char backing_fmt[32];
	bool has_bitmaps;
};

/* Parse and validate the first cluster of an image (buf holds len bytes,
 * at least min(cluster size, file size)). Returns 0, or -EINVAL / -ENOTSUP
 * with *why set to a short reason. Never reads outside buf. */
int qcow2_hdr_parse(const uint8_t *buf, size_t len, struct qcow2_hdr *h,
		    const char **why);

#define QCOW2_L2_CACHE 32
#define QCOW2_RB_CACHE 8

struct qcow2_cache_slot {
	uint64_t off;  /* host offset of the table, 0 = empty */
	uint64_t used; /* LRU stamp */
	uint8_t *data; /* one cluster, on-disk (big-endian) bytes */
	bool dirty;    /* changed in memory, not yet written (never evicted) */
};

#define QCOW2_PEND_MAX 256 /* pending L1 entries / releases before a commit */

struct qcow2 {
	struct qcow2_hdr h;
	struct blk_node *n;
	pthread_mutex_t lock; /* everything below */
	uint32_t cs;          /* cluster size */
	uint32_t l2_entries;
	uint64_t *l1;         /* host byte order */
	uint64_t *rt;         /* refcount table, host byte order */
	uint32_t rt_entries;
	uint64_t rb_entries;  /* refcounts per refcount block */
	uint64_t alloc_end;   /* first cluster index never handed out */
	uint64_t stamp;
	bool broken;          /* a metadata write failed: no more writes */
	uint64_t file_size;   /* the file is at least this long */
	/* metadata changes waiting for qcow2_commit (see qcow2_alloc.c) */
	uint32_t l2_dirty;    /* dirty L2 cache slots (at most half the cache) */
	uint32_t n_l1_dirty, nfree;
	uint32_t l1_dirty[QCOW2_PEND_MAX];
	uint64_t frees[QCOW2_PEND_MAX][2];
	struct qcow2_cache_slot l2c[QCOW2_L2_CACHE];
	struct qcow2_cache_slot rbc[QCOW2_RB_CACHE];
};

/* qcow2_meta.c: tables. All return 0 or -errno; q->lock held. */
int qcow2_l2_get(struct qcow2 *q, uint64_t l2_off, uint8_t **table);
int qcow2_rb_get(struct qcow2 *q, uint64_t rb_off, uint8_t **block);
uint64_t qcow2_be64(const uint8_t *p);
void qcow2_put_be64(uint8_t *p, uint64_t v);
/* The L2 entry for guest cluster g (0 when its L1 entry is empty). */
int qcow2_entry(struct qcow2 *q, uint64_t g, uint64_t *entry);
/* Host range [start, end) that a compressed L2 entry covers. */
void qcow2_compressed_range(const struct qcow2 *q, uint64_t e, uint64_t *start,
			    uint64_t *end);
/* Read one guest cluster's content (any kind) into buf (q->cs bytes). */
int qcow2_read_cluster(struct qcow2 *q, uint64_t g, uint64_t e, uint8_t *buf);
int qcow2_refcount_get(struct qcow2 *q, uint64_t cluster, uint64_t *rc);

/* qcow2_alloc.c: allocation (refcounts written before anything points at them). */
int qcow2_refcount_set(struct qcow2 *q, uint64_t cluster, uint64_t rc);
/* Hand out one fresh cluster at the end of the file, refcount 1. */
int qcow2_alloc(struct qcow2 *q, uint64_t *host_off);
/* Drop one reference to each host cluster of [start, end). */
int qcow2_unref_range(struct qcow2 *q, uint64_t start, uint64_t end);
/* Make every pending metadata change durable-ordered: fdatasync (data and
 * refcounts), then the dirty L2 tables and L1 entries, then releases. */
int qcow2_commit(struct qcow2 *q);
/* Set guest cluster g's L2 entry (old value e) to v, in memory; written by
 * the next commit. References e held are released after that. */
int qcow2_set_entry(struct qcow2 *q, uint64_t g, uint64_t e, uint64_t v);
/* The write paths (qcow2_write.c, the slow path of blk.c). */
int qcow2_write(struct qcow2 *q, uint64_t off, const uint8_t *buf, uint64_t len);
int qcow2_zero(struct qcow2 *q, uint64_t off, uint64_t len, bool discard);

#endif
