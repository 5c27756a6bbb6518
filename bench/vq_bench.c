/* vq_bench.c - cost of the split virtqueue itself: vq_pop + vq_push per 3-buffer chain, direct and indirect. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "xvm/guestmem.h"
#include "xvm/util.h"
#include "xvm/virtqueue.h"

#define RAM (16ULL << 20)
#define QSIZE 256
#define DESC 0x1000ULL
#define AVAIL 0x3000ULL
#define USED 0x4000ULL
#define TABLE 0x8000ULL
#define BUF 0x100000ULL
#define BATCH 85 /* 3-descriptor chains that fit a 256-entry table */
#define ROUNDS 40000

static void put_desc(struct guestmem *gm, uint64_t gpa, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t d[16];

	memcpy(d, &addr, 8);
	memcpy(d + 8, &len, 4);
	memcpy(d + 12, &flags, 2);
	memcpy(d + 14, &next, 2);
	gm_write(gm, gpa, d, sizeof(d));
}

/* A virtio-blk-like chain: 16-byte header, 4 KiB data, 1-byte status. */
static void put_chain(struct guestmem *gm, uint64_t table, uint16_t first)
{
	put_desc(gm, table + 16ULL * first, BUF, 16, 1, (uint16_t)(first + 1));
	put_desc(gm, table + 16ULL * (first + 1), BUF + 0x1000, 4096, 3, (uint16_t)(first + 2));
	put_desc(gm, table + 16ULL * (first + 2), BUF + 0x3000, 1, 2, 0);
}

static double run(struct guestmem *gm, bool indirect)
{
	struct virtqueue vq;
	static struct vq_elem e;
	uint16_t avail = 0;
	uint64_t t0, n = 0;

	memset(gm->host, 0, 0x10000);
	vq_init(&vq, gm);
	vq.size = QSIZE;
	vq.desc_gpa = DESC;
	vq.avail_gpa = AVAIL;
	vq.used_gpa = USED;
	vq.event_idx = vq.indirect = true;
	if (vq_enable(&vq))
		return -1;
	for (uint16_t k = 0; k < BATCH; k++) {
		if (indirect) {
			put_desc(gm, DESC + 16ULL * k, TABLE + 64ULL * k, 48, 4, 0);
			put_chain(gm, TABLE + 64ULL * k, 0);
		} else {
			put_chain(gm, DESC, (uint16_t)(3 * k));
		}
	}
	t0 = now_ns();
	for (unsigned r = 0; r < ROUNDS; r++) {
		for (uint16_t k = 0; k < BATCH; k++, avail++) {
			uint16_t head = indirect ? k : (uint16_t)(3 * k);

			gm_write(gm, AVAIL + 4 + 2ULL * (avail % QSIZE), &head, 2);
		}
		__atomic_store_n((uint16_t *)gm_ptr(gm, AVAIL + 2, 2), avail, __ATOMIC_RELEASE);
		while (vq_pop(&vq, &e) == 1) {
			vq_push(&vq, e.head, 4097);
			n++;
		}
		(void)vq_should_notify(&vq);
	}
	if (vq.broken || n != (uint64_t)ROUNDS * BATCH)
		return -1;
	return (double)(now_ns() - t0) / (double)n;
}

int main(void)
{
	struct guestmem gm;
	double d, i;

	if (gm_init(&gm, RAM)) {
		fprintf(stderr, "xvm: vq_bench: cannot map guest RAM\n");
		return 1;
	}
	d = run(&gm, false);
	i = run(&gm, true);
	gm_free(&gm);
	if (d < 0 || i < 0) {
		fprintf(stderr, "xvm: vq_bench: the queue refused the benchmark's chains\n");
		return 1;
	}
	printf("virtqueue pop+push, 3-buffer chain: direct %.1f ns, indirect %.1f ns "
	       "(%u chains each)\n", d, i, ROUNDS * BATCH);
	return 0;
}
