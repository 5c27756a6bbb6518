/* vq_fixture.h - fake guest RAM and hand-built rings shared by the virtqueue unit tests. */
#ifndef XVM_TESTS_VQ_FIXTURE_H
#define XVM_TESTS_VQ_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tests/unit/check.h"
#include "xvm/guestmem.h"
#include "xvm/virtqueue.h"

#define RAM (16ULL << 20)
#define DESC 0x1000ULL   /* descriptor table (up to 256 entries) */
#define AVAIL 0x3000ULL  /* available ring */
#define USED 0x4000ULL   /* used ring */
#define TABLE 0x8000ULL  /* indirect tables */
#define BUF 0x100000ULL  /* data buffers */

#define F_NEXT 1
#define F_WRITE 2
#define F_INDIRECT 4

/* a queue over fake guest RAM plus the driver's own avail index */
struct fx {
	struct guestmem *gm;
	struct virtqueue vq;
	uint16_t avail;
};

static inline void *host(struct fx *f, uint64_t gpa) { return gm_ptr(f->gm, gpa, 1); }

static inline uint16_t rd16(struct fx *f, uint64_t gpa)
{
	uint16_t v;
	memcpy(&v, host(f, gpa), 2);
	return v;
}

static inline uint32_t rd32(struct fx *f, uint64_t gpa)
{
	uint32_t v;
	memcpy(&v, host(f, gpa), 4);
	return v;
}

static inline void wr16(struct fx *f, uint64_t gpa, uint16_t v) { memcpy(host(f, gpa), &v, 2); }

/* Fresh rings of `size` entries at DESC/AVAIL/USED; the queue enabled. */
static inline void fx_setup(struct fx *f, struct guestmem *gm, uint16_t size, bool event_idx,
		     bool indirect)
{
	f->gm = gm;
	f->avail = 0;
	memset(gm->host, 0, 0x10000);
	vq_init(&f->vq, gm);
	f->vq.size = size;
	f->vq.desc_gpa = DESC;
	f->vq.avail_gpa = AVAIL;
	f->vq.used_gpa = USED;
	f->vq.event_idx = event_idx;
	f->vq.indirect = indirect;
	CHECK(vq_enable(&f->vq) == 0);
}

static inline void set_desc(struct fx *f, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = host(f, table + 16ULL * i);

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

/* Driver side: put head in the next avail slot and publish it. */
static inline void publish(struct fx *f, uint16_t head)
{
	wr16(f, AVAIL + 4 + 2ULL * (f->avail & (f->vq.size - 1)), head);
	f->avail++;
	__atomic_store_n((uint16_t *)host(f, AVAIL + 2), f->avail, __ATOMIC_RELEASE);
}

static inline uint16_t used_idx(struct fx *f) { return rd16(f, USED + 2); }

#endif
