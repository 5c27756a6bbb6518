/* engine_uring.c - the io_uring I/O engine.
 *
 * Any thread submits. Buffered reads and writes that the page cache can take
 * complete inside io_uring_enter(), so with ENG_INLINE the submitter reaps
 * the completion queue right after its submit and runs the callbacks itself:
 * no thread switch per request (on a small host that switch costs more than
 * the I/O). Writes, which io_uring would pass to a kernel worker, are plain
 * pwritev() calls on the submitter then. Without ENG_INLINE every callback
 * runs on the reaper.
 * Completions that come later (real device I/O) wake the reaper thread
 * through an eventfd, which is switched off while a submitter reaps. The CQ
 * has one consumer at a time (cq_lock). */
#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <unistd.h>

#include "block/engine.h"

#define URING_DEPTH 256
#define REAP_BATCH 32

struct engine {
	struct io_uring ring;
	pthread_mutex_t sq_lock; /* guards the submission queue and the eventfd toggle */
	pthread_mutex_t cq_lock; /* one completion-queue consumer at a time */
	bool inline_reap;        /* submitters reap (ENG_INLINE) */
	unsigned quiet;          /* submitters reaping inline (under sq_lock) */
	int efd;                 /* completions for the reaper */
	pthread_t reaper;
};

static void requeue(struct engine *e, struct eng_req *r);
static int complete(struct eng_req *r, int res);

/* Put r (or the stop marker when r is NULL) on the ring. Caller holds sq_lock. */
static void queue_locked(struct engine *e, struct eng_req *r)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&e->ring)))
		io_uring_submit(&e->ring);
	if (!r)
		io_uring_prep_nop(sqe);
	else if (r->op == ENG_FSYNC)
		io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
	else if (r->op == ENG_READ)
		io_uring_prep_readv(sqe, r->fd, r->iov,
				    (unsigned)(r->iovcnt > IOV_MAX ? IOV_MAX : r->iovcnt),
				    r->off + r->done);
	else
		io_uring_prep_writev(sqe, r->fd, r->iov,
				     (unsigned)(r->iovcnt > IOV_MAX ? IOV_MAX : r->iovcnt),
				     r->off + r->done);
	io_uring_sqe_set_data(sqe, r);
	io_uring_submit(&e->ring);
}

/* Take up to REAP_BATCH completions off the CQ. Returns how many, or -1
 * when the stop marker came. Caller holds cq_lock. */
static int take(struct engine *e, struct eng_req **r, int *res)
{
	struct io_uring_cqe *cqe;
	int n = 0;

	while (n < REAP_BATCH && io_uring_peek_cqe(&e->ring, &cqe) == 0) {
		r[n] = io_uring_cqe_get_data(cqe);
		res[n] = cqe->res;
		io_uring_cqe_seen(&e->ring, cqe);
		if (!r[n])
			return -1;
		n++;
	}
	return n;
}

/* Drain the CQ and run the callbacks on this thread. Returns false when the
 * stop marker came. */
static bool reap(struct engine *e)
{
	struct eng_req *r[REAP_BATCH];
	int res[REAP_BATCH], n;

	do {
		pthread_mutex_lock(&e->cq_lock);
		n = take(e, r, res);
		pthread_mutex_unlock(&e->cq_lock);
		for (int i = 0; i < (n < 0 ? 0 : n); i++)
			if (complete(r[i], res[i]))
				requeue(e, r[i]);
	} while (n == REAP_BATCH);
	return n >= 0;
}

/* Submit r and reap what completed meanwhile. The eventfd is off while
 * submitters are in here; whoever switches it back on looks at the CQ once
 * more, so a completion that came while it was off is not left behind. */
static void requeue(struct engine *e, struct eng_req *r)
{
	bool again;

	if (!e->inline_reap) {
		pthread_mutex_lock(&e->sq_lock);
		queue_locked(e, r);
		pthread_mutex_unlock(&e->sq_lock);
		return;
	}
	pthread_mutex_lock(&e->sq_lock);
	if (!e->quiet++)
		io_uring_cq_eventfd_toggle(&e->ring, false);
	queue_locked(e, r);
	pthread_mutex_unlock(&e->sq_lock);
	do {
		reap(e);
		pthread_mutex_lock(&e->sq_lock);
		if (!--e->quiet)
			io_uring_cq_eventfd_toggle(&e->ring, true);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		again = !e->quiet && io_uring_cq_ready(&e->ring);
		if (again)
			e->quiet++, io_uring_cq_eventfd_toggle(&e->ring, false);
		pthread_mutex_unlock(&e->sq_lock);
	} while (again);
}

/* Handle one completion; returns 1 when r must be resubmitted. */
static int complete(struct eng_req *r, int res)
{
	if (res == -EINTR || res == -EAGAIN)
		return 1;
	if (res < 0) {
		r->cb(r, res);
		return 0;
	}
	if (r->op == ENG_FSYNC) {
		r->cb(r, 0);
		return 0;
	}
	if (res == 0) {
		if (r->op == ENG_WRITE) {
			r->cb(r, -EIO);
			return 0;
		}
		eng_iov_zero_rest(r);
	} else {
		eng_iov_advance(r, (size_t)res);
	}
	if (r->done < r->len && r->iovcnt)
		return 1;
	r->cb(r, 0);
	return 0;
}

static void *reaper(void *arg)
{
	struct engine *e = arg;

	for (;;) {
		uint64_t v;
		ssize_t n = read(e->efd, &v, sizeof(v));

		if (n < 0 && errno != EINTR && errno != EAGAIN)
			break; /* eventfd unusable: nothing sane left to do */
		if (!reap(e))
			break;
	}
	return NULL;
}

static int uring_init(struct engine **out, unsigned flags)
{
	struct engine *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	e->inline_reap = flags & ENG_INLINE;
	rc = io_uring_queue_init(URING_DEPTH, &e->ring, 0);
	if (rc < 0) {
		free(e);
		return rc;
	}
	e->efd = eventfd(0, EFD_CLOEXEC);
	rc = e->efd < 0 ? -errno : io_uring_register_eventfd(&e->ring, e->efd);
	if (rc < 0) {
		if (e->efd >= 0)
			close(e->efd);
		io_uring_queue_exit(&e->ring);
		free(e);
		return rc;
	}
	pthread_mutex_init(&e->sq_lock, NULL);
	pthread_mutex_init(&e->cq_lock, NULL);
	rc = pthread_create(&e->reaper, NULL, reaper, e);
	if (rc) {
		io_uring_queue_exit(&e->ring);
		close(e->efd);
		pthread_mutex_destroy(&e->sq_lock);
		pthread_mutex_destroy(&e->cq_lock);
		free(e);
		return -rc;
	}
	*out = e;
	return 0;
}

static void uring_fini(struct engine *e)
{
	uint64_t one = 1;

	pthread_mutex_lock(&e->sq_lock);
	queue_locked(e, NULL); /* the stop marker, for the reaper */
	pthread_mutex_unlock(&e->sq_lock);
	if (write(e->efd, &one, sizeof(one)) < 0) {
		/* the marker's own completion signals the eventfd too */
	}
	pthread_join(e->reaper, NULL);
	io_uring_queue_exit(&e->ring);
	close(e->efd);
	pthread_mutex_destroy(&e->sq_lock);
	pthread_mutex_destroy(&e->cq_lock);
	free(e);
}

/* A buffered write on the submitter's thread (ENG_INLINE): io_uring would
 * hand it to an io-wq worker (ext4 cannot take it without blocking), and the
 * completion would come back through the reaper: two thread switches for a
 * copy into the page cache. The cost: the submitter waits while the kernel
 * throttles a writer that dirties pages faster than they are written back. */
static void write_now(struct engine *e, struct eng_req *r)
{
	for (;;) {
		int cnt = r->iovcnt > IOV_MAX ? IOV_MAX : r->iovcnt;
		ssize_t n = pwritev(r->fd, r->iov, cnt, (off_t)(r->off + r->done));

		if (n < 0 && errno == EAGAIN) {
			requeue(e, r); /* let io_uring wait for it */
			return;
		}
		if (!complete(r, n < 0 ? -errno : (int)n))
			return;
	}
}

static void uring_submit(struct engine *e, struct eng_req *r)
{
	r->done = 0;
	if (e->inline_reap && r->op == ENG_WRITE)
		write_now(e, r);
	else
		requeue(e, r);
}

const struct engine_ops engine_uring_ops = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.submit = uring_submit,
};
