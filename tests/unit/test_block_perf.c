/* test_block_perf.c - block-perf: sequential and 4 KiB random I/O through the block layer vs plain pread (a benchmark, not a test). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xvm/block.h"
#include "xvm/log.h"
#include "xvm/util.h"

#define MiB (1ULL << 20)
#define SECONDS 2

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double mib_s(uint64_t bytes, uint64_t ns)
{
	return (double)bytes / MiB / ((double)ns / 1e9);
}

static double seq(struct blk *b, uint64_t size, bool write)
{
	uint8_t *buf = malloc(MiB);
	uint64_t t0 = now_ns();

	memset(buf, 0x5a, MiB);
	for (uint64_t off = 0; off < size; off += MiB)
		if ((write ? blk_pwrite(b, buf, MiB, off) : blk_pread(b, buf, MiB, off)))
			return -1;
	if (write && blk_flush(b))
		return -1;
	free(buf);
	return mib_s(size, now_ns() - t0);
}

static double qd1(struct blk *b, uint64_t size)
{
	static uint8_t buf[4096];
	uint64_t n = 0, t0 = now_ns(), end = t0 + SECONDS * 1000000000ULL;

	while (now_ns() < end)
		for (int i = 0; i < 256; i++, n++)
			if (blk_pread(b, buf, 4096, (rnd() % (size / 4096)) * 4096))
				return -1;
	return (double)n / ((double)(now_ns() - t0) / 1e9);
}

struct qd;

struct qd_slot {
	struct qd *q;
	int i;
};

struct qd {
	struct blk *b;
	uint64_t size, end;
	atomic_ulong done;
	atomic_int inflight, errors;
	uint8_t buf[32][4096];
	struct iovec iov[32];
	struct qd_slot slot[32];
};

static void qd_done(void *opaque, int result);

static void qd_issue(struct qd *q, int slot)
{
	atomic_fetch_add(&q->inflight, 1);
	if (blk_submit(q->b, BLK_OP_READ, (rnd() % (q->size / 4096)) * 4096, &q->iov[slot], 1,
		       0, qd_done, &q->slot[slot])) {
		atomic_fetch_add(&q->errors, 1);
		atomic_fetch_sub(&q->inflight, 1);
	}
}

static void qd_done(void *opaque, int result)
{
	struct qd_slot *s = opaque;
	struct qd *q = s->q;
	int slot = s->i;

	if (result)
		atomic_fetch_add(&q->errors, 1);
	atomic_fetch_add(&q->done, 1);
	if (now_ns() < q->end)
		qd_issue(q, slot);
	atomic_fetch_sub(&q->inflight, 1);
}

static double qd32(struct blk *b, uint64_t size)
{
	struct qd *q = calloc(1, sizeof(*q));
	uint64_t t0;
	double r;

	q->b = b;
	q->size = size;
	t0 = now_ns();
	q->end = t0 + SECONDS * 1000000000ULL;
	for (int i = 0; i < 32; i++) {
		q->iov[i].iov_base = q->buf[i];
		q->iov[i].iov_len = 4096;
		q->slot[i].q = q;
		q->slot[i].i = i;
		qd_issue(q, i);
	}
	while (atomic_load(&q->inflight))
		usleep(1000);
	r = atomic_load(&q->errors) ? -1 : (double)atomic_load(&q->done) / ((double)(now_ns() - t0) / 1e9);
	free(q);
	return r;
}

static double host_pread(const char *path, uint64_t size)
{
	static uint8_t buf[4096];
	int fd = open(path, O_RDONLY);
	uint64_t n = 0, t0 = now_ns(), end = t0 + SECONDS * 1000000000ULL;

	while (now_ns() < end)
		for (int i = 0; i < 256; i++, n++)
			if (pread(fd, buf, 4096, (off_t)((rnd() % (size / 4096)) * 4096)) != 4096)
				return -1;
	close(fd);
	return (double)n / ((double)(now_ns() - t0) / 1e9);
}

static void run(const char *path, enum blk_format f, uint64_t size)
{
	struct blk_create_opts c = { .path = path, .format = f, .size = size };
	struct blk_opts o = { .path = path };
	struct blk *b;
	double w;

	unlink(path);
	if (blk_image_create(&c) || blk_open(&o, &b))
		exit(1);
	w = seq(b, size, true);
	printf("%-6s %-9s seq write %7.0f MiB/s  seq read %7.0f MiB/s  4k rand read QD1 %7.0f IOPS  QD32 %7.0f IOPS\n",
	       blk_format_name(f), blk_engine_name(b), w, seq(b, size, false), qd1(b, size),
	       qd32(b, size));
	blk_close(b);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/tmp";
	uint64_t size = 256 * MiB;
	char raw[512], q2[512];

	log_init("xvm", LOG_ERR);
	snprintf(raw, sizeof(raw), "%s/block-perf.raw", dir);
	snprintf(q2, sizeof(q2), "%s/block-perf.qcow2", dir);
	printf("block-perf: %llu MiB images in %s (page cache warm), %d s per random test\n",
	       (unsigned long long)(size / MiB), dir, SECONDS);
	for (int e = 0; e < 2; e++) {
		setenv("XVM_BLOCK_ENGINE", e ? "threads" : "io_uring", 1);
		run(raw, BLK_FMT_RAW, size);
		run(q2, BLK_FMT_QCOW2, size);
	}
	printf("host   pread     4k rand read QD1 %7.0f IOPS (same raw file)\n", host_pread(raw, size));
	unlink(raw);
	unlink(q2);
	return 0;
}
