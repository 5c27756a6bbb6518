/* block.h - disk images behind one interface: raw and qcow2 (v3, with
 * backing chains), read-only or writable, and asynchronous I/O through
 * io_uring with a thread-pool fallback.
 *
 * Threads: blk_submit() may be called from any thread; completion callbacks
 * run on one of the block layer's own threads for that open image chain (the
 * io_uring reaper, an I/O worker, or the chain's slow-path thread that does
 * qcow2 allocation), never inside blk_submit() unless the image was opened
 * with inline_done (then a callback may also run on the thread that calls
 * blk_submit(), inside it: for this or an earlier request). Callbacks of different
 * requests may run concurrently. A callback must not block for long; it may
 * submit new requests. The engine is io_uring when io_uring_queue_init works,
 * else a thread pool; XVM_BLOCK_ENGINE=threads|io_uring forces one. */
#ifndef XVM_BLOCK_H
#define XVM_BLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_format { BLK_FMT_AUTO = 0, BLK_FMT_RAW, BLK_FMT_QCOW2 };

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,        /* everything completed before is durable */
	BLK_OP_DISCARD,      /* offset, len; may deallocate */
	BLK_OP_WRITE_ZEROES, /* offset, len; reads back as zeroes */
};

struct blk_opts {
	const char *path;
	enum blk_format format; /* AUTO: qcow2 magic, else raw */
	bool readonly;
	/* done() may run inside blk_submit() on the submitter's thread: a
	 * buffered read the page cache answers completes with no thread switch */
	bool inline_done;
};

struct blk;

/* Open an image (and its backing chain, read-only). Returns 0 or a negative
 * errno after logging one line naming the file and the problem: missing,
 * unreadable, unknown format, corrupt qcow2 header, backing loop, read-only
 * file opened for writing. Nothing is modified on failure. */
int blk_open(const struct blk_opts *o, struct blk **out);
/* Wait for in-flight requests, flush if writable, close the chain. */
void blk_close(struct blk *b);

uint64_t blk_size(const struct blk *b);       /* virtual size in bytes */
bool blk_is_readonly(const struct blk *b);
enum blk_format blk_format_of(const struct blk *b);
const char *blk_engine_name(const struct blk *b); /* "io_uring" or "threads" */

typedef void (*blk_done_fn)(void *opaque, int result); /* 0 or -errno */

/* Start one request. READ/WRITE use iov (total length = bytes moved);
 * DISCARD/WRITE_ZEROES use len; FLUSH uses neither. offset and len are in
 * bytes and must be multiples of 512. Returns 0 (done() will be called
 * exactly once) or a negative errno (-EINVAL out of range, -EROFS write to a
 * read-only image), in which case done() is not called. */
int blk_submit(struct blk *b, enum blk_op op, uint64_t offset,
	       const struct iovec *iov, int iovcnt, uint64_t len,
	       blk_done_fn done, void *opaque);

/* Synchronous wrappers (submit and wait); 0 or -errno. */
int blk_pread(struct blk *b, void *buf, uint64_t len, uint64_t offset);
int blk_pwrite(struct blk *b, const void *buf, uint64_t len, uint64_t offset);
int blk_flush(struct blk *b);

/* ---- image management (block/image.c, used by `xvm image`) ---- */

struct blk_create_opts {
	const char *path;
	enum blk_format format;        /* RAW or QCOW2 (AUTO means QCOW2) */
	uint64_t size;                 /* bytes; 0 with a backing file: its size */
	unsigned cluster_bits;         /* qcow2: 9..21, 0 = 16 (64 KiB) */
	const char *backing;           /* qcow2 only; NULL = none. Stored as given;
	                                  a relative name is relative to path's directory */
	enum blk_format backing_format; /* AUTO: probe the backing file */
};

/* Create a new image (never overwrites: -EEXIST). The backing chain must
 * open. Returns 0 or -errno after logging one line; on failure nothing is
 * left behind. */
int blk_image_create(const struct blk_create_opts *o);

/* Freeze disk as a read-only base and continue on a new overlay under the
 * same name, in constant time: the overlay (backing = the base) is created
 * beside it, the base name is hard-linked to the current file, then the
 * overlay is renamed over the disk name and the base made read-only (0444).
 * base NULL picks "<stem>.snap-<UTC time>.<ext>" beside disk. The disk must
 * not be in use (-EBUSY). *base_out (malloc'd, may be NULL) gets the base
 * path. 0 or -errno after logging one line; on failure disk is unchanged. */
int blk_image_snapshot(const char *disk, const char *base, char **base_out);

/* Create dst as a new overlay on src's content in constant time. A src that
 * is already read-only is used as the base directly; a writable src is
 * first frozen with blk_image_snapshot (src continues on a new overlay and
 * both share the base). *base_out as above. 0 or -errno (logged). */
int blk_image_clone(const char *src, const char *dst, char **base_out);

/* One file of a backing chain, top first. */
struct blk_info {
	char *path;
	enum blk_format format;
	uint64_t size;         /* virtual size */
	uint64_t disk_bytes;   /* allocated on the host */
	uint32_t version;      /* qcow2 version, 0 for raw */
	uint32_t cluster_size; /* 0 for raw */
	bool file_readonly;    /* no write permission bits */
	char *backing;         /* as recorded in the image, or NULL */
	char *backing_format;  /* as recorded, or NULL */
};

/* Describe path and its backing chain without locking it (it may be in
 * use). *out gets *n entries; free with blk_info_free. 0 or -errno (logged). */
int blk_image_info(const char *path, struct blk_info **out, int *n);
void blk_info_free(struct blk_info *info, int n);

struct blk_check {
	uint64_t clusters;   /* host clusters examined */
	uint64_t corruptions; /* referenced more than counted, bad offsets, flags */
	uint64_t leaks;      /* counted but not referenced */
	bool refcounts_checked; /* false for raw */
};

/* Check an image's metadata (qcow2: every L1/L2 entry against the refcounts,
 * like `qemu-img check`) and that its backing chain opens. Problems are
 * logged one per line (at most a few dozen). Returns 0 when the check ran
 * (see *res), or -errno when the image could not be opened. */
int blk_image_check(const char *path, struct blk_check *res);

const char *blk_format_name(enum blk_format f); /* "raw", "qcow2", "auto" */

#endif
