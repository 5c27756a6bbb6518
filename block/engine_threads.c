/* engine_threads.c - the thread-pool I/O engine (preadv/pwritev/fdatasync), the io_uring fallback. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/engine.h"

#define THREADS_N 4

struct engine {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct eng_req *head, *tail;
	bool stop;
	int nthreads;
	pthread_t th[THREADS_N];
};

void eng_iov_advance(struct eng_req *r, size_t n)
{
	r->done += n;
	while (n && r->iovcnt) {
		if (n < r->iov[0].iov_len) {
			r->iov[0].iov_base = (char *)r->iov[0].iov_base + n;
			r->iov[0].iov_len -= n;
			return;
		}
		n -= r->iov[0].iov_len;
		r->iov++;
		r->iovcnt--;
	}
	/* drop empty leading entries so a resubmission never sees len 0 */
	while (r->iovcnt && !r->iov[0].iov_len) {
		r->iov++;
		r->iovcnt--;
	}
}

void eng_iov_zero_rest(struct eng_req *r)
{
	for (int i = 0; i < r->iovcnt; i++)
		memset(r->iov[i].iov_base, 0, r->iov[i].iov_len);
	r->done = r->len;
	r->iovcnt = 0;
}

/* Run one request to the end with plain system calls. 0 or -errno. */
static int run_one(struct eng_req *r)
{
	if (r->op == ENG_FSYNC)
		return fdatasync(r->fd) ? -errno : 0;
	while (r->done < r->len && r->iovcnt) {
		off_t off = (off_t)(r->off + r->done);
		int cnt = r->iovcnt > IOV_MAX ? IOV_MAX : r->iovcnt;
		ssize_t n = r->op == ENG_READ ? preadv(r->fd, r->iov, cnt, off)
					      : pwritev(r->fd, r->iov, cnt, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			if (r->op == ENG_WRITE)
				return -EIO;
			eng_iov_zero_rest(r);
			break;
		}
		eng_iov_advance(r, (size_t)n);
	}
	return 0;
}

static void *worker(void *arg)
{
	struct engine *e = arg;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct eng_req *r;

		while (!e->head && !e->stop)
			pthread_cond_wait(&e->cond, &e->lock);
		if (!e->head)
			break;
		r = e->head;
		e->head = r->next;
		if (!e->head)
			e->tail = NULL;
		pthread_mutex_unlock(&e->lock);
		r->cb(r, run_one(r));
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

static void threads_fini(struct engine *e)
{
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	for (int i = 0; i < e->nthreads; i++)
		pthread_join(e->th[i], NULL);
	pthread_cond_destroy(&e->cond);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

static int threads_init(struct engine **out, unsigned flags)
{
	struct engine *e = calloc(1, sizeof(*e));

	(void)flags; /* callbacks always run on the workers */
	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	for (int i = 0; i < THREADS_N; i++) {
		int rc = pthread_create(&e->th[i], NULL, worker, e);

		if (rc) {
			threads_fini(e);
			return -rc;
		}
		e->nthreads++;
	}
	*out = e;
	return 0;
}

static void threads_submit(struct engine *e, struct eng_req *r)
{
	r->done = 0;
	r->next = NULL;
	pthread_mutex_lock(&e->lock);
	if (e->tail)
		e->tail->next = r;
	else
		e->head = r;
	e->tail = r;
	pthread_cond_signal(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

const struct engine_ops engine_threads_ops = {
	.name = "threads",
	.init = threads_init,
	.fini = threads_fini,
	.submit = threads_submit,
};
