/* blk.c - the generic block layer: request splitting over format extents, engines, the slow path.
 *
 * A request is mapped extent by extent (format ops ->map). When every extent
 * is plain data (or zeroes for a read), the data moves through the engine
 * (io_uring or threads) as one sub-request per extent. Otherwise the whole
 * request goes to the chain's slow-path thread, which runs the format's
 * blocking ->rw (cluster allocation, compressed clusters, discard). FLUSH is
 * the format's ->flush on the slow path when it has one (qcow2 first writes
 * the metadata it holds in memory), else an fdatasync through the engine. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "block/blk_int.h"
#include "block/engine.h"
#include "xvm/log.h"

struct blk_req {
	struct blk *b;
	enum blk_op op;
	uint64_t off, len;
	struct iovec *iov; /* private copy */
	int iovcnt;
	blk_done_fn done;
	void *opaque;
	atomic_int pending; /* sub-requests + the submitter's guard */
	atomic_int err;
	bool complete_only; /* on the slow queue only to run done() */
	struct blk_req *next;
};

struct sub_req {
	struct eng_req er;
	struct blk_req *parent;
	struct iovec iov[]; /* slice of the parent's iov */
};

struct blk {
	struct blk_node *top;
	const struct engine_ops *eops;
	struct engine *eng;
	pthread_mutex_t lock; /* slow queue and in-flight count */
	pthread_cond_t cond;  /* work for the slow-path thread */
	pthread_cond_t idle;  /* inflight reached 0 (blk_close waits) */
	struct blk_req *head, *tail;
	bool stop;
	bool inline_done; /* blk_opts.inline_done */
	unsigned long inflight;
	pthread_t slow;
};

static void req_finish(struct blk_req *r)
{
	struct blk *b = r->b;

	r->done(r->opaque, atomic_load(&r->err));
	free(r->iov);
	free(r);
	pthread_mutex_lock(&b->lock);
	if (!--b->inflight)
		pthread_cond_broadcast(&b->idle); /* not cond: the slow thread has nothing new */
	pthread_mutex_unlock(&b->lock);
}

static void slow_enqueue(struct blk *b, struct blk_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&b->lock);
	if (b->tail)
		b->tail->next = r;
	else
		b->head = r;
	b->tail = r;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

static void req_put(struct blk_req *r)
{
	if (atomic_fetch_sub(&r->pending, 1) == 1)
		req_finish(r);
}

static void sub_done(struct eng_req *er, int res)
{
	struct sub_req *s = (struct sub_req *)er;
	struct blk_req *r = s->parent;

	if (res) {
		int zero = 0;

		atomic_compare_exchange_strong(&r->err, &zero, res);
	}
	free(s);
	req_put(r);
}

/* Run a request with the format's blocking path through a bounce buffer. */
static int slow_run(struct blk *b, struct blk_req *r)
{
	bool data = r->op == BLK_OP_READ || r->op == BLK_OP_WRITE;
	char *buf = NULL;
	int rc;

	if (data) {
		buf = malloc(r->len ? r->len : 1);
		if (!buf)
			return -ENOMEM;
	}
	if (r->op == BLK_OP_WRITE) {
		size_t at = 0;

		for (int i = 0; i < r->iovcnt; i++) {
			memcpy(buf + at, r->iov[i].iov_base, r->iov[i].iov_len);
			at += r->iov[i].iov_len;
		}
	}
	if (r->op == BLK_OP_FLUSH)
		rc = b->top->ops->flush(b->top);
	else
		rc = b->top->ops->rw(b->top, r->op, r->off, buf, r->len);
	if (!rc && r->op == BLK_OP_READ) {
		size_t at = 0;

		for (int i = 0; i < r->iovcnt; i++) {
			memcpy(r->iov[i].iov_base, buf + at, r->iov[i].iov_len);
			at += r->iov[i].iov_len;
		}
	}
	free(buf);
	return rc;
}

static void *slow_thread(void *arg)
{
	struct blk *b = arg;

	pthread_mutex_lock(&b->lock);
	for (;;) {
		struct blk_req *r;

		while (!b->head && !b->stop)
			pthread_cond_wait(&b->cond, &b->lock);
		if (!b->head)
			break;
		r = b->head;
		b->head = r->next;
		if (!b->head)
			b->tail = NULL;
		pthread_mutex_unlock(&b->lock);
		if (!r->complete_only)
			atomic_store(&r->err, slow_run(b, r));
		req_finish(r);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

/* Copy the part [at, at+len) of r's iov into a new sub-request. */
static struct sub_req *sub_new(struct blk_req *r, uint64_t at, uint64_t len)
{
	struct sub_req *s = calloc(1, sizeof(*s) + (size_t)r->iovcnt * sizeof(struct iovec));
	int n = 0;

	if (!s)
		return NULL;
	for (int i = 0; i < r->iovcnt && len; i++) {
		uint64_t l = r->iov[i].iov_len;

		if (at >= l) {
			at -= l;
			continue;
		}
		s->iov[n].iov_base = (char *)r->iov[i].iov_base + at;
		s->iov[n].iov_len = (size_t)MIN_U64(l - at, len);
		len -= s->iov[n].iov_len;
		at = 0;
		n++;
	}
	s->er.iov = s->iov;
	s->er.iovcnt = n;
	s->parent = r;
	s->er.cb = sub_done;
	return s;
}

static void iov_zero(struct blk_req *r, uint64_t at, uint64_t len)
{
	for (int i = 0; i < r->iovcnt && len; i++) {
		uint64_t l = r->iov[i].iov_len, k;

		if (at >= l) {
			at -= l;
			continue;
		}
		k = MIN_U64(l - at, len);
		memset((char *)r->iov[i].iov_base + at, 0, (size_t)k);
		len -= k;
		at = 0;
	}
}

/* Map the whole request; on success the sub-requests are in *list. Returns
 * 1 when the request needs the slow path, 0 when mapped, -errno on error. */
static int map_all(struct blk *b, struct blk_req *r, struct sub_req **list)
{
	bool write = r->op == BLK_OP_WRITE;
	uint64_t pos = 0;

	*list = NULL;
	while (pos < r->len) {
		struct blk_extent ext;
		struct sub_req *s;
		int rc = b->top->ops->map(b->top, write, r->off + pos, r->len - pos, &ext);

		if (rc)
			return rc;
		if (ext.kind == EXT_SLOW || (write && ext.kind != EXT_DATA))
			return 1;
		if (ext.kind == EXT_ZERO) {
			iov_zero(r, pos, ext.len);
		} else {
			s = sub_new(r, pos, ext.len);
			if (!s)
				return -ENOMEM;
			s->er.fd = ext.fd;
			s->er.op = write ? ENG_WRITE : ENG_READ;
			s->er.off = ext.host_off;
			s->er.len = (size_t)ext.len;
			s->er.next = (struct eng_req *)*list;
			*list = s;
		}
		pos += ext.len;
	}
	return 0;
}

static void free_list(struct sub_req *s)
{
	while (s) {
		struct sub_req *n = (struct sub_req *)s->er.next;

		free(s);
		s = n;
	}
}

/* Dispatch a validated request; done() is called from here only with
 * inline_done. */
static int dispatch(struct blk *b, struct blk_req *r)
{
	struct sub_req *list = NULL;
	int rc = 0;

	if (r->op == BLK_OP_FLUSH && !b->top->readonly && b->top->ops->flush) {
		rc = 1; /* metadata to commit first: the slow path */
	} else if (r->op == BLK_OP_FLUSH && !b->top->readonly) {
		struct sub_req *s = calloc(1, sizeof(*s));

		if (!s)
			return -ENOMEM;
		s->parent = r;
		s->er.fd = b->top->fd;
		s->er.op = ENG_FSYNC;
		s->er.cb = sub_done;
		list = s;
	} else if (r->op == BLK_OP_READ || r->op == BLK_OP_WRITE) {
		rc = map_all(b, r, &list);
	} else if (r->op != BLK_OP_FLUSH) {
		rc = 1;
	}
	if (rc < 0) {
		free_list(list);
		return rc;
	}
	pthread_mutex_lock(&b->lock);
	b->inflight++;
	pthread_mutex_unlock(&b->lock);
	if (rc == 1) {
		free_list(list);
		slow_enqueue(b, r);
		return 0;
	}
	while (list) {
		struct sub_req *s = list;

		list = (struct sub_req *)s->er.next;
		atomic_fetch_add(&r->pending, 1);
		b->eops->submit(b->eng, &s->er);
	}
	if (atomic_fetch_sub(&r->pending, 1) == 1) {
		if (b->inline_done) {
			req_finish(r);
		} else {
			r->complete_only = true; /* finish off this thread */
			slow_enqueue(b, r);
		}
	}
	return 0;
}

int blk_submit(struct blk *b, enum blk_op op, uint64_t offset,
	       const struct iovec *iov, int iovcnt, uint64_t len,
	       blk_done_fn done, void *opaque)
{
	struct blk_req *r;
	int rc;

	if (op == BLK_OP_READ || op == BLK_OP_WRITE) {
		if (iovcnt < 0 || (iovcnt && !iov))
			return -EINVAL;
		len = 0;
		for (int i = 0; i < iovcnt; i++)
			len += iov[i].iov_len;
	} else if (op == BLK_OP_FLUSH) {
		len = 0;
		offset = 0;
	} else if (op != BLK_OP_DISCARD && op != BLK_OP_WRITE_ZEROES) {
		return -EINVAL;
	}
	if ((offset | len) & 511 || offset > b->top->size || len > b->top->size - offset)
		return -EINVAL;
	if (op != BLK_OP_READ && op != BLK_OP_FLUSH && b->top->readonly)
		return -EROFS;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (iovcnt && (op == BLK_OP_READ || op == BLK_OP_WRITE)) {
		r->iov = malloc((size_t)iovcnt * sizeof(*iov));
		if (!r->iov) {
			free(r);
			return -ENOMEM;
		}
		memcpy(r->iov, iov, (size_t)iovcnt * sizeof(*iov));
		r->iovcnt = iovcnt;
	}
	r->b = b;
	r->op = op;
	r->off = offset;
	r->len = len;
	r->done = done;
	r->opaque = opaque;
	atomic_init(&r->pending, 1);
	atomic_init(&r->err, 0);
	rc = dispatch(b, r);
	if (rc) {
		free(r->iov);
		free(r);
	}
	return rc;
}

/* The engine XVM_BLOCK_ENGINE asks for (io_uring|threads), else io_uring
 * when the kernel allows it, else threads. 0 or -errno. */
static int engine_start(struct blk *b, const char *path)
{
	unsigned flags = b->inline_done ? ENG_INLINE : 0;
	const char *want = getenv("XVM_BLOCK_ENGINE");
	int rc;

	if (want && *want && strcmp(want, "threads") && strcmp(want, "io_uring")) {
		log_err("open %s: XVM_BLOCK_ENGINE=%s: expected io_uring or threads", path, want);
		return -EINVAL;
	}
	if (!want || strcmp(want, "threads")) {
#ifdef XVM_HAVE_URING
		rc = engine_uring_ops.init(&b->eng, flags);
#else
		rc = -ENOSYS;
#endif
#ifdef XVM_HAVE_URING
		if (!rc) {
			b->eops = &engine_uring_ops;
			return 0;
		}
#endif
		if (want && *want) {
			log_err("open %s: io_uring: %s", path, strerror(-rc));
			return rc;
		}
		log_info("io_uring unavailable (%s); using the thread pool", strerror(-rc));
	}
	rc = engine_threads_ops.init(&b->eng, flags);
	if (rc) {
		log_err("open %s: I/O threads: %s", path, strerror(-rc));
		return rc;
	}
	b->eops = &engine_threads_ops;
	return 0;
}

int blk_open(const struct blk_opts *o, struct blk **out)
{
	struct blk *b;
	int rc;

	if (!o || !o->path || !*o->path) {
		log_err("open: no image path");
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	rc = blk_node_open(o->path, o->format, o->readonly ? BLK_NODE_RO : 0, 0, NULL,
			   NULL, &b->top);
	if (rc) {
		free(b);
		return rc;
	}
	b->inline_done = o->inline_done;
	rc = engine_start(b, o->path);
	if (rc) {
		blk_node_close(b->top);
		free(b);
		return rc;
	}
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	pthread_cond_init(&b->idle, NULL);
	rc = pthread_create(&b->slow, NULL, slow_thread, b);
	if (rc) {
		log_err("open %s: thread: %s", o->path, strerror(rc));
		b->eops->fini(b->eng);
		blk_node_close(b->top);
		free(b);
		return -rc;
	}
	*out = b;
	return 0;
}

void blk_close(struct blk *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	while (b->inflight)
		pthread_cond_wait(&b->idle, &b->lock);
	pthread_mutex_unlock(&b->lock);
	if (!b->top->readonly) {
		int rc = blk_flush(b);

		if (rc)
			log_err("close %s: flush: %s", b->top->path, strerror(-rc));
	}
	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	pthread_join(b->slow, NULL);
	b->eops->fini(b->eng);
	blk_node_close(b->top);
	pthread_cond_destroy(&b->cond);
	pthread_cond_destroy(&b->idle);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

uint64_t blk_size(const struct blk *b)
{
	return b->top->size;
}

bool blk_is_readonly(const struct blk *b)
{
	return b->top->readonly;
}

enum blk_format blk_format_of(const struct blk *b)
{
	return b->top->ops->format;
}

const char *blk_engine_name(const struct blk *b)
{
	return b->eops->name;
}

struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int rc;
};

static void wake(void *opaque, int result)
{
	struct waiter *w = opaque;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->rc = result;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Submit and wait. 0 or -errno. */
static int submit_wait(struct blk *b, enum blk_op op, uint64_t off, void *buf,
		       uint64_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = (size_t)len };
	struct waiter w = { .done = false };
	bool data = op == BLK_OP_READ || op == BLK_OP_WRITE;
	int rc;

	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	rc = blk_submit(b, op, off, data ? &iov : NULL, data ? 1 : 0, len, wake, &w);
	if (!rc) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		rc = w.rc;
	}
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return rc;
}

int blk_pread(struct blk *b, void *buf, uint64_t len, uint64_t offset)
{
	return submit_wait(b, BLK_OP_READ, offset, buf, len);
}

int blk_pwrite(struct blk *b, const void *buf, uint64_t len, uint64_t offset)
{
	return submit_wait(b, BLK_OP_WRITE, offset, (void *)buf, len);
}

int blk_flush(struct blk *b)
{
	return submit_wait(b, BLK_OP_FLUSH, 0, NULL, 0);
}
