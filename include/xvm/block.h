/* block.h - disk images behind one interface: raw and qcow2 (v3, with
 * backing chains), read-only or writable, and asynchronous I/O through
 * io_uring with a thread-pool fallback.
 *
 * Threads: blk_submit() may be called from any thread; completion callbacks
 * run on the block layer's own completion thread (one per open image chain),
 * never inside blk_submit(). A callback must not block for long. */
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

#endif
