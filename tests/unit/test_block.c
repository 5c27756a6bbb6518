/* test_block.c - unit tests for the block layer: raw and qcow2 engines (io_uring and threads), async I/O, bad input. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "tests/unit/check.h"
#include "xvm/block.h"
#include "xvm/log.h"

#define BLK_FIXTURE_SEED 0x9e3779b97f4a7c15ULL
#include "tests/unit/blk_fixture.h"


static int create(const char *path, enum blk_format f, uint64_t size, const char *backing)
{
	struct blk_create_opts o = { .path = path, .format = f, .size = size, .backing = backing };

	return blk_image_create(&o);
}

static bool inline_mode; /* open images with inline_done */

static struct blk *open_img(const char *path, bool ro)
{
	struct blk_opts o = { .path = path, .readonly = ro, .inline_done = inline_mode };
	struct blk *b = NULL;

	CHECK(blk_open(&o, &b) == 0);
	return b;
}

/* Random writes and reads against a shadow copy; reopen and compare. */
static void shadow_test(const char *path, uint64_t size, const uint8_t *initial)
{
	uint8_t *shadow = malloc(size), *buf = malloc(MiB);
	struct blk *b = open_img(path, false);

	if (!b || !shadow || !buf)
		goto out;
	if (initial)
		memcpy(shadow, initial, size);
	else
		memset(shadow, 0, size);
	for (int i = 0; i < 300; i++) {
		uint64_t len = (1 + rnd() % 256) * 512, off = (rnd() % (size / 512)) * 512;

		if (off + len > size)
			len = size - off;
		if (rnd() % 3) {
			fill(buf, len);
			CHECK(blk_pwrite(b, buf, len, off) == 0);
			memcpy(shadow + off, buf, len);
		} else {
			CHECK(blk_pread(b, buf, len, off) == 0);
			CHECK(!memcmp(buf, shadow + off, len));
		}
	}
	CHECK(blk_flush(b) == 0);
	blk_close(b);
	b = open_img(path, true);
	if (!b)
		goto out;
	for (uint64_t off = 0; off < size; off += MiB) {
		uint64_t len = size - off < MiB ? size - off : MiB;

		CHECK(blk_pread(b, buf, len, off) == 0);
		CHECK(!memcmp(buf, shadow + off, len));
	}
	blk_close(b);
out:
	free(shadow);
	free(buf);
}

struct async_ctx {
	atomic_int left, errors, inlined;
	pthread_t submitter;
};

/* On the submitter's thread only with inline_done (then counted). */
static void async_done(void *opaque, int result)
{
	struct async_ctx *c = opaque;
	bool here = pthread_equal(pthread_self(), c->submitter);

	if (result || (here && !inline_mode))
		atomic_fetch_add(&c->errors, 1);
	if (here)
		atomic_fetch_add(&c->inlined, 1);
	atomic_fetch_sub(&c->left, 1);
}

/* 64 two-segment writes in flight at once, then the same reads. */
static void async_test(const char *path)
{
	enum { N = 64, SEG = 2048 };
	struct async_ctx c = { .submitter = pthread_self() };
	uint8_t *data = malloc(N * 2 * SEG), *back = calloc(N * 2, SEG);
	struct blk *b = open_img(path, false);

	if (!b || !data || !back)
		goto out;
	fill(data, N * 2 * SEG);
	for (int pass = 0; pass < 2; pass++) {
		uint8_t *base = pass ? back : data;

		atomic_store(&c.left, N);
		for (int i = 0; i < N; i++) {
			struct iovec iov[2] = {
				{ base + i * 2 * SEG + SEG, SEG }, /* reversed halves */
				{ base + i * 2 * SEG, SEG },
			};

			CHECK(blk_submit(b, pass ? BLK_OP_READ : BLK_OP_WRITE,
					 (uint64_t)i * 3 * 2 * SEG, iov, 2, 0, async_done, &c) == 0);
		}
		while (atomic_load(&c.left))
			usleep(1000);
	}
	CHECK(atomic_load(&c.errors) == 0);
	CHECK(!memcmp(data, back, N * 2 * SEG));
	/* io_uring with inline_done writes on the submitting thread */
	if (inline_mode && !strcmp(blk_engine_name(b), "io_uring"))
		CHECK(atomic_load(&c.inlined) >= N);
	if (inline_mode)
		printf("  %s: %d of %d completions on the submitting thread\n", path,
		       atomic_load(&c.inlined), 2 * N);
	blk_close(b);
out:
	free(data);
	free(back);
}

static void zero_discard_test(const char *path)
{
	uint8_t *buf = malloc(256 * 1024), *z = calloc(1, 256 * 1024);
	struct blk *b = open_img(path, false);
	struct iovec none = { 0 };

	if (!b || !buf || !z)
		goto out;
	fill(buf, 256 * 1024);
	CHECK(blk_pwrite(b, buf, 256 * 1024, 0) == 0);
	/* write-zeroes over a partial + whole cluster range */
	{
		struct async_ctx c = { .submitter = pthread_self() };

		atomic_store(&c.left, 2);
		CHECK(blk_submit(b, BLK_OP_WRITE_ZEROES, 4096, &none, 0, 200 * 1024, async_done, &c) == 0);
		CHECK(blk_submit(b, BLK_OP_DISCARD, 0, NULL, 0, 512, async_done, &c) == 0);
		while (atomic_load(&c.left))
			usleep(1000);
		CHECK(atomic_load(&c.errors) == 0);
	}
	memset(buf + 4096, 0, 200 * 1024);
	{
		uint8_t *got = malloc(256 * 1024);

		CHECK(got && blk_pread(b, got, 256 * 1024, 0) == 0);
		CHECK(got && !memcmp(got + 512, buf + 512, 256 * 1024 - 512));
		free(got);
	}
	blk_close(b);
out:
	free(buf);
	free(z);
}

static void bad_input_test(void)
{
	struct blk_opts o = { .path = p("missing.img") };
	struct blk *b = NULL;
	uint8_t buf[4096] = { 0 };

	CHECK(blk_open(&o, &b) == -ENOENT);
	/* range and alignment checks, read-only images */
	CHECK(create(p("small.raw"), BLK_FMT_RAW, 64 * 1024, NULL) == 0);
	CHECK(create(p("small.raw"), BLK_FMT_RAW, 64 * 1024, NULL) == -EEXIST);
	b = open_img(p("small.raw"), true);
	if (b) {
		CHECK(blk_is_readonly(b));
		CHECK(blk_pwrite(b, buf, 512, 0) == -EROFS);
		CHECK(blk_pread(b, buf, 100, 0) == -EINVAL);
		CHECK(blk_pread(b, buf, 512, 64 * 1024) == -EINVAL);
		CHECK(blk_pread(b, buf, 1024, 63 * 1024) == 0);
		CHECK(blk_flush(b) == 0);
		blk_close(b);
	}
	chmod(p("small.raw"), 0444);
	o.path = p("small.raw");
	b = NULL;
	CHECK(blk_open(&o, &b) == -EROFS);
}

static void engine_pass(const char *engine)
{
	uint8_t *base = malloc(8 * MiB);
	struct blk *b;

	setenv("XVM_BLOCK_ENGINE", engine, 1);
	printf("engine %s%s\n", engine, inline_mode ? " (inline_done)" : "");
	/* raw */
	unlink(p("r.raw"));
	CHECK(create(p("r.raw"), BLK_FMT_RAW, 8 * MiB, NULL) == 0);
	b = open_img(p("r.raw"), false);
	if (b) {
		CHECK(!strcmp(blk_engine_name(b), engine));
		CHECK(blk_format_of(b) == BLK_FMT_RAW && blk_size(b) == 8 * MiB);
		blk_close(b);
	}
	shadow_test(p("r.raw"), 8 * MiB, NULL);
	async_test(p("r.raw"));
	zero_discard_test(p("r.raw"));
	/* qcow2, then an overlay on a filled raw base */
	unlink(p("q.qcow2"));
	CHECK(create(p("q.qcow2"), BLK_FMT_QCOW2, 8 * MiB, NULL) == 0);
	shadow_test(p("q.qcow2"), 8 * MiB, NULL);
	async_test(p("q.qcow2"));
	zero_discard_test(p("q.qcow2"));
	unlink(p("base.raw"));
	unlink(p("ov.qcow2"));
	CHECK(create(p("base.raw"), BLK_FMT_RAW, 8 * MiB, NULL) == 0);
	b = open_img(p("base.raw"), false);
	if (b && base) {
		fill(base, 8 * MiB);
		CHECK(blk_pwrite(b, base, 8 * MiB, 0) == 0);
		blk_close(b);
	}
	CHECK(create(p("ov.qcow2"), BLK_FMT_QCOW2, 0, "base.raw") == 0);
	if (base)
		shadow_test(p("ov.qcow2"), 8 * MiB, base);
	{
		struct blk_check r;

		CHECK(blk_image_check(p("q.qcow2"), &r) == 0 && !r.corruptions && !r.leaks);
		CHECK(blk_image_check(p("ov.qcow2"), &r) == 0 && !r.corruptions && !r.leaks);
	}
	free(base);
}

/* With io_uring_setup refused (as in many containers), blk_open falls back
 * to the thread pool by itself. Runs in a child: the filter is permanent. */
static void fallback_test(void)
{
#ifdef HAVE_SECCOMP
	pid_t pid;
	int st = -1;

	CHECK(create(p("fb.raw"), BLK_FMT_RAW, MiB, NULL) == 0);
	pid = fork();
	if (pid == 0) {
		scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
		struct blk_opts o = { .path = p("fb.raw") };
		uint8_t buf[4096] = { 1 };
		struct blk *b = NULL;
		int ok;

		unsetenv("XVM_BLOCK_ENGINE");
		if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM),
					     seccomp_syscall_resolve_name("io_uring_setup"), 0) ||
		    seccomp_load(ctx))
			_exit(3);
		ok = !blk_open(&o, &b) && !strcmp(blk_engine_name(b), "threads") &&
		     !blk_pwrite(b, buf, sizeof(buf), 0) && !blk_pread(b, buf, sizeof(buf), 4096);
		if (b)
			blk_close(b);
		_exit(ok ? 0 : 1);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("io_uring refused: fell back to threads (child status %d)\n", st);
#else
	printf("libseccomp not available: fallback test skipped\n");
#endif
}

int main(void)
{
	char cmd[128];
	struct blk *b;

	log_init("xvm", LOG_ERR);
	snprintf(dir, sizeof(dir), "/tmp/xvm-test-block-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	engine_pass("threads");
	engine_pass("io_uring");
	inline_mode = true; /* as virtio-blk opens its disks */
	engine_pass("threads");
	engine_pass("io_uring");
	inline_mode = false;
	unsetenv("XVM_BLOCK_ENGINE");
	fallback_test();
	bad_input_test();
	CHECK(create(p("lock.qcow2"), BLK_FMT_QCOW2, MiB, NULL) == 0);
	b = open_img(p("lock.qcow2"), false);
	if (b) {
		struct blk_opts o = { .path = p("lock.qcow2") };
		struct blk *b2 = NULL;

		CHECK(blk_open(&o, &b2) == -EBUSY);
		CHECK(blk_image_snapshot(p("lock.qcow2"), NULL, NULL) == -EBUSY);
		blk_close(b);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "cleanup of %s failed\n", dir);
	return check_report("block");
}
