/* rng.c - virtio-rng: fill the guest's buffers from getrandom(2), with an optional rate limit. */
#include "xvm/virtio_rng.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "xvm/evloop.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"
#include "xvm/virtio.h"
#include "xvm/vm.h"

#define QUEUE_SIZE 64
#define MAX_REQ_BYTES (64 * 1024)  /* per chain: bounds the work one kick buys */

struct vrng {
	struct vm *vm;
	struct virtio_pci *vp;
	struct evloop *loop;
	struct virtio_dev_ops ops;
	pthread_mutex_t lock;      /* everything below (event loop vs reset) */
	struct virtqueue *vq;      /* the queue, once the driver kicked it */
	uint64_t rate;             /* bytes/s, 0: unlimited */
	uint64_t tokens;           /* bytes we may hand out now (<= rate) */
	uint64_t tokens_ns;        /* when tokens was last refilled */
	int timer_fd;              /* wakes a waiting request (rate limit) */
	bool waiting;              /* elem is popped and waits for tokens */
	struct vq_elem elem;
};

/* Fill up to want bytes of e's writable part from getrandom. Returns the
 * bytes written, or -errno when getrandom fails. */
static int64_t vrng_fill(const struct vq_elem *e, uint64_t want)
{
	uint64_t done = 0;

	for (unsigned i = e->out_num; i < e->out_num + e->in_num && done < want; i++) {
		uint8_t *p = e->iov[i].iov_base;
		size_t n = MIN((uint64_t)e->iov[i].iov_len, want - done);
		while (n) {
			ssize_t got = getrandom(p, n, 0);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0)
				return got < 0 ? -errno : -EIO;
			p += got;
			n -= (size_t)got;
			done += (uint64_t)got;
		}
	}
	return (int64_t)done;
}

/* Bytes the pending request asks for (capped by MAX_REQ_BYTES and a
 * second's worth of tokens). */
static uint64_t vrng_want(const struct vrng *r)
{
	uint64_t want = MIN(r->elem.in_len, (uint64_t)MAX_REQ_BYTES);

	return r->rate ? MIN(want, r->rate) : want;
}

/* Rate limit: true when the pending request may go now (tokens taken);
 * else the timer is armed for when it can. Called with r->lock held. */
static bool vrng_admit(struct vrng *r, uint64_t want)
{
	uint64_t now = now_ns(), dt = now - r->tokens_ns, add, missing, wait_ns;
	struct itimerspec its = { 0 };

	if (!r->rate)
		return true;
	/* refill; dt capped at 1 s so the products cannot overflow. Only the
	 * time whole bytes were earned for is consumed: the remainder counts
	 * next time (else frequent refills would round every byte away). */
	add = MIN(dt, 1000000000ULL) * r->rate / 1000000000ULL;
	if (r->tokens + add >= r->rate) {
		r->tokens = r->rate;
		r->tokens_ns = now;
	} else {
		r->tokens += add;
		r->tokens_ns += add * 1000000000ULL / r->rate;
	}
	if (r->tokens >= want) {
		r->tokens -= want;
		return true;
	}
	missing = want - r->tokens;
	/* round up: waking early would only re-arm the timer */
	wait_ns = MAX((missing * 1000000000ULL + r->rate - 1) / r->rate, 1000ULL);
	its.it_value.tv_sec = (time_t)(wait_ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(wait_ns % 1000000000ULL);
	if (timerfd_settime(r->timer_fd, 0, &its, NULL) < 0)
		log_warn("virtio-rng: timerfd_settime: %s", strerror(errno));
	return false;
}

/* Serve the queue until it is empty or a request must wait for tokens.
 * Called with r->lock held, on the event loop thread. */
static void vrng_run(struct vrng *r)
{
	unsigned served = 0;
	int rc = 1;

	while (rc > 0) {
		if (!r->waiting) {
			rc = vq_pop(r->vq, &r->elem);
			if (rc < 0) {
				virtio_needs_reset(r->vp, r->vq->why ? r->vq->why : "malformed queue");
				break;
			}
			if (rc == 0)
				break;
			if (!r->elem.in_num) {
				virtio_needs_reset(r->vp, "request without a writable buffer");
				break;
			}
			r->waiting = true;
		}
		uint64_t want = vrng_want(r);
		if (!vrng_admit(r, want))
			break;
		int64_t got = vrng_fill(&r->elem, want);
		if (got < 0) {
			log_warn("virtio-rng: getrandom: %s", strerror((int)-got));
			got = 0;
		}
		XVM_PROBE(RNG_REQ, r->vm->cfg.domid, (unsigned)got);
		vq_push(r->vq, r->elem.head, (uint32_t)got);
		r->waiting = false;
		served++;
	}
	if (served)
		virtio_notify(r->vp, 0);
}

static void vrng_queue_notify(void *dev, struct virtqueue *vq, unsigned q)
{
	struct vrng *r = dev;

	(void)q;
	XVM_PROBE(VIRTIO_NOTIFY, r->vm->cfg.domid, (char *)"virtio-rng", 0);
	pthread_mutex_lock(&r->lock);
	r->vq = vq;
	if (!r->waiting)        /* else the timer resumes the queue */
		vrng_run(r);
	pthread_mutex_unlock(&r->lock);
}

static void vrng_timer(void *opaque)
{
	struct vrng *r = opaque;
	uint64_t n;

	if (read(r->timer_fd, &n, sizeof(n)) < 0)
		return;
	pthread_mutex_lock(&r->lock);
	if (r->waiting && r->vq)
		vrng_run(r);
	pthread_mutex_unlock(&r->lock);
}

/* Device reset (vCPU thread): drop a waiting request, stop the timer. */
static void vrng_reset(void *dev)
{
	struct vrng *r = dev;
	struct itimerspec off = { 0 };

	pthread_mutex_lock(&r->lock);
	r->waiting = false;
	if (r->timer_fd >= 0)
		timerfd_settime(r->timer_fd, 0, &off, NULL);
	pthread_mutex_unlock(&r->lock);
}

int vrng_create(struct vm *vm, struct pci_bus *bus, struct evloop *loop,
		const struct vrng_opts *o, struct vrng **out)
{
	struct vrng *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->vm = vm;
	r->loop = loop;
	r->rate = o->rate;
	r->tokens = o->rate;
	r->tokens_ns = now_ns();
	r->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	pthread_mutex_init(&r->lock, NULL);
	r->ops = (struct virtio_dev_ops){
		.name = "virtio-rng", .type = VIRTIO_ID_RNG, .class_code = 0x00ff00,
		.nqueues = 1, .queue_size = QUEUE_SIZE, .cfg_size = 0,
		.queue_notify = vrng_queue_notify, .reset = vrng_reset,
	};
	rc = r->timer_fd < 0 ? -errno : evloop_add(loop, r->timer_fd, vrng_timer, r);
	if (rc < 0) {
		log_err("virtio-rng: cannot set up its timer: %s", strerror(-rc));
		vrng_destroy(r);
		return rc;
	}
	rc = virtio_pci_create(vm, bus, loop, &r->ops, r, &r->vp);
	if (rc < 0) {
		vrng_destroy(r);
		return rc;
	}
	if (r->rate)
		log_info("virtio-rng: at most %llu bytes/s", (unsigned long long)r->rate);
	*out = r;
	return 0;
}

void vrng_destroy(struct vrng *r)
{
	if (!r)
		return;
	if (r->timer_fd >= 0) {
		evloop_del(r->loop, r->timer_fd);
		close(r->timer_fd);
	}
	virtio_pci_destroy(r->vp);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int vrng_parse(const char *spec, struct vrng_opts *o)
{
	char num[64];
	size_t n;
	uint64_t v;

	if (!strcmp(spec, "on") || !strcmp(spec, "off")) {
		o->enabled = spec[1] == 'n';
		o->rate = 0;
		return 0;
	}
	if (strncmp(spec, "rate=", 5) != 0)
		goto bad;
	n = strlen(spec + 5);
	if (n > 2 && !strcmp(spec + 5 + n - 2, "/s"))
		n -= 2;
	if (n == 0 || n >= sizeof(num))
		goto bad;
	memcpy(num, spec + 5, n);
	num[n] = 0;
	if (parse_size(num, 1, &v) < 0 || v == 0 || v > VRNG_MAX_RATE)
		goto bad;
	o->enabled = true;
	o->rate = v;
	return 0;
bad:
	log_err("--rng '%s': want on, off or rate=BYTES[/s] (1 to 1G, e.g. rate=64K)", spec);
	return -EINVAL;
}
