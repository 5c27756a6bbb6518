/* test_virtqueue_mt.c - a driver thread against a device thread: no request lost or duplicated, no wake-up lost. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/vq_fixture.h"

#define MT_REQS 100000u
#define MT_SIZE 256
#define MT_SLOTS (MT_SIZE / 2)
#define MT_WAIT_MS 5000 /* a lost wake-up shows as this timeout */

/*
 * Modes:
 *  POLL   both sides spin (sched_yield); no kicks, no interrupts.
 *  POP    event idx; the device sleeps whenever vq_pop() returns 0 (its
 *         promise: avail_event published, fenced, ring re-checked).
 *  DANCE  event idx; the device turns kicks off while busy and uses
 *         vq_set_notify(true)'s answer before sleeping.
 *  FLAGS  no event idx: VRING_USED_F_NO_NOTIFY / NO_INTERRUPT protocol.
 * The driver does what Linux's virtio_ring does: store avail->idx, full
 * barrier, then read avail_event (or used->flags) to decide on a kick; to
 * wait for completions it writes used_event, full barrier, re-checks
 * used->idx, and only then sleeps.
 */
enum mt_mode { MT_POLL, MT_POP, MT_DANCE, MT_FLAGS };
static const char *const mt_names[] = { "poll", "pop", "dance", "flags" };

struct mt {
	struct fx f;
	enum mt_mode mode;
	int kick_fd, irq_fd;
	/* driver (main thread) */
	uint32_t slot_seq[MT_SLOTS];
	bool inflight[MT_SLOTS];
	uint16_t free_list[MT_SLOTS];
	unsigned nfree, done, kicks, drv_timeouts;
	uint64_t next;
	uint16_t used_seen;
	uint8_t *seen;
	/* device thread; read by the driver only after join */
	unsigned popped, errors, irqs, dev_timeouts;
	int dead; /* atomic: the device thread has finished */
};

static bool wait_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, MT_WAIT_MS) != 1)
		return false;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v);
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		abort();
}

/* Device: answer one request (~seq into the writable part) and complete it. */
static void mt_serve(struct mt *m, const struct vq_elem *e)
{
	uint64_t seq;

	m->popped++;
	if (e->out_num != 1 || e->in_num != 1 || vq_elem_read(e, 0, &seq, 8)) {
		m->errors++;
		return;
	}
	seq = ~seq;
	if (vq_elem_write(e, 0, &seq, 8))
		m->errors++;
	vq_push(&m->f.vq, e->head, 8);
	if (vq_should_notify(&m->f.vq)) {
		m->irqs++;
		if (m->irq_fd >= 0)
			signal_fd(m->irq_fd);
	}
}

static void *mt_device(void *arg)
{
	struct mt *m = arg;
	struct virtqueue *vq = &m->f.vq;
	bool dance = m->mode == MT_DANCE || m->mode == MT_FLAGS;
	struct vq_elem e;
	int rc = 0;

	while (m->popped < MT_REQS && !m->errors) {
		if (dance)
			vq_set_notify(vq, false);
		while (!m->errors && (rc = vq_pop(vq, &e)) == 1)
			mt_serve(m, &e);
		if (rc < 0)
			m->errors++;
		if (m->errors || m->popped >= MT_REQS)
			break;
		if (m->mode == MT_POLL) {
			sched_yield();
			continue;
		}
		if (dance && vq_set_notify(vq, true))
			continue;
		if (!wait_fd(m->kick_fd)) {
			m->dev_timeouts++;
			break;
		}
	}
	__atomic_store_n(&m->dead, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Driver: fill free slots, then kick when the device asked for one. */
static bool mt_publish(struct mt *m)
{
	struct fx *f = &m->f;
	uint16_t old = f->avail, ev;
	bool kick;

	while (m->next < MT_REQS && m->nfree) {
		uint16_t s = m->free_list[--m->nfree];

		m->slot_seq[s] = (uint32_t)m->next;
		m->inflight[s] = true;
		memcpy(host(f, BUF + 16ULL * s), &m->next, 8);
		memset(host(f, BUF + 16ULL * s + 8), 0, 8);
		publish(f, (uint16_t)(2 * s));
		m->next++;
	}
	if (f->avail == old)
		return false;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (m->mode == MT_FLAGS) {
		kick = !(__atomic_load_n((uint16_t *)host(f, USED), __ATOMIC_RELAXED) & 1);
	} else {
		ev = __atomic_load_n((uint16_t *)host(f, USED + 4 + 8 * MT_SIZE), __ATOMIC_RELAXED);
		kick = (uint16_t)(f->avail - ev - 1) < (uint16_t)(f->avail - old);
	}
	if (kick && m->kick_fd >= 0) {
		m->kicks++;
		signal_fd(m->kick_fd);
	}
	return true;
}

/* Driver: take completions off the used ring and check each answer. */
static unsigned mt_reap(struct mt *m)
{
	struct fx *f = &m->f;
	uint16_t u = __atomic_load_n((uint16_t *)host(f, USED + 2), __ATOMIC_ACQUIRE);
	unsigned n = 0;

	for (; m->used_seen != u; m->used_seen++, n++) {
		uint64_t slot = USED + 4 + 8ULL * (m->used_seen & (MT_SIZE - 1));
		uint32_t id = rd32(f, slot), s = id / 2, seq;
		uint64_t answer;

		CHECK(id < MT_SIZE && !(id & 1) && m->inflight[s]);
		if (id >= MT_SIZE || (id & 1) || !m->inflight[s])
			continue;
		seq = m->slot_seq[s];
		memcpy(&answer, host(f, BUF + 16ULL * s + 8), 8);
		CHECK(rd32(f, slot + 4) == 8);
		CHECK(answer == ~(uint64_t)seq);
		m->seen[seq]++;
		m->inflight[s] = false;
		m->free_list[m->nfree++] = (uint16_t)s;
	}
	m->done += n;
	return n;
}

/* Driver: nothing to do; ask for an interrupt and sleep unless work came. */
static bool mt_wait_irq(struct mt *m)
{
	struct fx *f = &m->f;

	if (m->mode != MT_FLAGS)
		__atomic_store_n((uint16_t *)host(f, AVAIL + 4 + 2 * MT_SIZE), m->used_seen,
				 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n((uint16_t *)host(f, USED + 2), __ATOMIC_ACQUIRE) != m->used_seen)
		return true;
	return wait_fd(m->irq_fd);
}

static void mt_driver(struct mt *m)
{
	while (m->done < MT_REQS) {
		bool progress = mt_publish(m);

		if (mt_reap(m) || progress)
			continue;
		if (__atomic_load_n(&m->dead, __ATOMIC_ACQUIRE)) {
			mt_reap(m);
			break;
		}
		if (m->mode == MT_POLL) {
			sched_yield();
		} else if (!mt_wait_irq(m)) {
			m->drv_timeouts++;
			break;
		}
	}
}

static void run_mode(struct guestmem *gm, enum mt_mode mode)
{
	struct mt *m = calloc(1, sizeof(*m));
	unsigned dups = 0, missing = 0;
	struct timespec t0, t1;
	pthread_t t;

	CHECK(m != NULL);
	if (!m || !(m->seen = calloc(MT_REQS, 1)))
		abort();
	m->mode = mode;
	m->kick_fd = mode == MT_POLL ? -1 : eventfd(0, EFD_CLOEXEC);
	m->irq_fd = mode == MT_POLL ? -1 : eventfd(0, EFD_CLOEXEC);
	CHECK(mode == MT_POLL || (m->kick_fd >= 0 && m->irq_fd >= 0));
	fx_setup(&m->f, gm, MT_SIZE, mode != MT_FLAGS, false);
	m->nfree = MT_SLOTS;
	for (unsigned s = 0; s < MT_SLOTS; s++) {
		set_desc(&m->f, DESC, 2 * s, BUF + 16ULL * s, 8, F_NEXT, (uint16_t)(2 * s + 1));
		set_desc(&m->f, DESC, 2 * s + 1, BUF + 16ULL * s + 8, 8, F_WRITE, 0);
		m->free_list[s] = (uint16_t)s;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(pthread_create(&t, NULL, mt_device, m) == 0);
	mt_driver(m);
	if (mode != MT_POLL)
		signal_fd(m->kick_fd); /* unblock a device still waiting (failure path) */
	pthread_join(t, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mt_reap(m);
	for (unsigned i = 0; i < MT_REQS; i++) {
		dups += m->seen[i] > 1;
		missing += !m->seen[i];
	}
	CHECK(m->errors == 0 && m->popped == MT_REQS);
	CHECK(m->dev_timeouts == 0 && m->drv_timeouts == 0);
	CHECK(m->done == MT_REQS && dups == 0 && missing == 0);
	CHECK(!m->f.vq.broken && m->f.vq.last_avail == (uint16_t)MT_REQS);
	printf("%-5s %u requests in %.0f ms: %u completed, %u duplicated, %u lost, "
	       "%u kicks, %u interrupts, timeouts %u/%u\n", mt_names[mode], MT_REQS,
	       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
	       m->done, dups, missing, m->kicks, m->irqs, m->dev_timeouts, m->drv_timeouts);
	if (m->kick_fd >= 0)
		close(m->kick_fd);
	if (m->irq_fd >= 0)
		close(m->irq_fd);
	free(m->seen);
	free(m);
}

int main(void)
{
	struct guestmem gm;

	if (gm_init(&gm, RAM)) {
		fprintf(stderr, "xvm: test_virtqueue_mt: cannot map guest RAM\n");
		return 1;
	}
	for (enum mt_mode mode = MT_POLL; mode <= MT_FLAGS; mode++)
		run_mode(&gm, mode);
	gm_free(&gm);
	return check_report("virtqueue-mt");
}
