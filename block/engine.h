/* engine.h - the block layer's I/O engines (io_uring, thread pool) behind one ops table. */
#ifndef XVM_BLOCK_ENGINE_H
#define XVM_BLOCK_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum eng_op { ENG_READ, ENG_WRITE, ENG_FSYNC };

/* One data transfer on one file descriptor. The caller owns the struct until
 * cb runs; iov may be modified by the engine (to resume short transfers).
 * Reads past end-of-file complete with the missing bytes zero-filled. */
struct eng_req {
	int fd;
	enum eng_op op;
	uint64_t off;
	struct iovec *iov;
	int iovcnt;
	size_t len;            /* total bytes of iov */
	void (*cb)(struct eng_req *r, int res); /* 0 or -errno */
	void *opaque;
	/* engine-private */
	size_t done;
	struct eng_req *next;
};

struct engine;

/* init flags */
#define ENG_INLINE 1u /* callbacks may run inside submit, on the submitting thread */

struct engine_ops {
	const char *name;
	/* Start the engine and its completion thread(s). flags: ENG_*; an engine
	 * may ignore ENG_INLINE. 0 or -errno. */
	int (*init)(struct engine **out, unsigned flags);
	/* Wait for nothing: the caller has drained its requests. Frees e. */
	void (*fini)(struct engine *e);
	/* Queue r; its cb runs later on an engine thread, never inside submit
	 * unless the engine was started with ENG_INLINE (then the callbacks of
	 * r and of earlier requests may run inside submit). */
	void (*submit)(struct engine *e, struct eng_req *r);
};

extern const struct engine_ops engine_uring_ops;
extern const struct engine_ops engine_threads_ops;

/* Advance r->iov/r->iovcnt past n transferred bytes (short transfers). */
void eng_iov_advance(struct eng_req *r, size_t n);
/* Zero-fill the remaining iov of r (reads that hit end-of-file). */
void eng_iov_zero_rest(struct eng_req *r);

#endif
