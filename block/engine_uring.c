/* engine_uring.c - the io_uring I/O engine: any thread submits, one thread reaps completions. */
#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>

#include "block/engine.h"

#define URING_DEPTH 256

struct engine {
	struct io_uring ring;
	pthread_mutex_t sq_lock; /* guards the submission queue */
	pthread_t reaper;
};

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

static void requeue(struct engine *e, struct eng_req *r)
{
	pthread_mutex_lock(&e->sq_lock);
	queue_locked(e, r);
	pthread_mutex_unlock(&e->sq_lock);
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
		struct io_uring_cqe *cqe;
		struct eng_req *r;
		int res, rc = io_uring_wait_cqe(&e->ring, &cqe);

		if (rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc < 0)
			break; /* ring unusable: nothing sane left to do */
		r = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&e->ring, cqe);
		if (!r)
			break;
		if (complete(r, res))
			requeue(e, r);
	}
	return NULL;
}

static int uring_init(struct engine **out)
{
	struct engine *e = calloc(1, sizeof(*e));
	int rc;

	if (!e)
		return -ENOMEM;
	rc = io_uring_queue_init(URING_DEPTH, &e->ring, 0);
	if (rc < 0) {
		free(e);
		return rc;
	}
	pthread_mutex_init(&e->sq_lock, NULL);
	rc = pthread_create(&e->reaper, NULL, reaper, e);
	if (rc) {
		io_uring_queue_exit(&e->ring);
		pthread_mutex_destroy(&e->sq_lock);
		free(e);
		return -rc;
	}
	*out = e;
	return 0;
}

static void uring_fini(struct engine *e)
{
	requeue(e, NULL);
	pthread_join(e->reaper, NULL);
	io_uring_queue_exit(&e->ring);
	pthread_mutex_destroy(&e->sq_lock);
	free(e);
}

static void uring_submit(struct engine *e, struct eng_req *r)
{
	r->done = 0;
	requeue(e, r);
}

const struct engine_ops engine_uring_ops = {
	.name = "io_uring",
	.init = uring_init,
	.fini = uring_fini,
	.submit = uring_submit,
};
