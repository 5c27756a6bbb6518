/* test_qcow2.c - qcow2 metadata: header parser, corrupt images, backing loops, qemu-img interop, kill -9 crash safety. */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "tests/unit/check.h"
#include "xvm/block.h"
#include "xvm/log.h"
#include "xvm/util.h"

#define BLK_FIXTURE_SEED 0x2545f4914f6cdd1dULL
#include "tests/unit/blk_fixture.h"

static bool have_qemu_img;

/* Run a shell command quietly; its exit status, or -1. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	if (st == -1 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static int write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644), rc;

	if (fd < 0)
		return -errno;
	rc = write_all(fd, buf, len);
	close(fd);
	return rc;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static void test_header_parser(void)
{
	struct blk_create_opts o = { .path = p("h.qcow2"), .format = BLK_FMT_QCOW2, .size = 3 * MiB };
	struct qcow2_hdr h;
	const char *why;
	uint8_t *img, *m;
	size_t len;

	CHECK(blk_image_create(&o) == 0);
	if (read_file(p("h.qcow2"), 1 << 22, &img, &len))
		return;
	CHECK(qcow2_hdr_parse(img, len, &h, &why) == 0);
	CHECK(h.version == 3 && h.cluster_bits == 16 && h.size == 3 * MiB && h.l1_size == 1);
	m = malloc(len);
	if (!m) {
		free(img);
		return;
	}
	/* one field at a time: offset, value, expected error */
	struct { size_t off; uint32_t v; int rc; } cases[] = {
		{ 0, 0x514649fa, -EINVAL }, { 4, 4, -ENOTSUP }, { 4, 1, -ENOTSUP },
		{ 20, 8, -EINVAL }, { 20, 22, -EINVAL }, { 32, 1, -ENOTSUP },
		{ 36, 0, -EINVAL }, { 36, 0x1000000, -EINVAL }, { 44, 0x10001, -EINVAL },
		{ 52, 0, -EINVAL }, { 56, 0, -EINVAL }, { 96, 7, -EINVAL },
		{ 100, 0x1000000, -EINVAL }, { 100, 16, -EINVAL }, { 76, 0x20, -ENOTSUP },
		{ 76, 0x10, -ENOTSUP }, { 12, 0x400, -EINVAL }, { 16, 2000, -EINVAL },
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memcpy(m, img, len);
		put32(m + cases[i].off, cases[i].v);
		if (cases[i].off == 16) /* a backing name that cannot fit */
			put32(m + 12, 0x200);
		CHECK(qcow2_hdr_parse(m, len, &h, &why) == cases[i].rc);
	}
	/* truncated buffers and random damage never read out of bounds */
	for (size_t l = 0; l < 120; l++)
		(void)qcow2_hdr_parse(img, l, &h, &why);
	for (int i = 0; i < 20000; i++) {
		size_t l = 72 + rnd() % 1024;

		memcpy(m, img, l);
		for (int k = 0; k < 4; k++)
			m[rnd() % l] = (uint8_t)rnd();
		(void)qcow2_hdr_parse(m, l, &h, &why);
	}
	free(m);
	free(img);
}

/* Opening a broken image fails with err and leaves the file unchanged. */
static void expect_open_fail(const char *path, bool ro, int err)
{
	struct blk_opts o = { .path = path, .readonly = ro };
	uint8_t *before = NULL, *after = NULL;
	size_t lb = 0, la = 0;
	struct blk *b = NULL;

	CHECK(read_file(path, 1 << 24, &before, &lb) == 0);
	CHECK(blk_open(&o, &b) == err);
	CHECK(read_file(path, 1 << 24, &after, &la) == 0);
	CHECK(lb == la && before && after && !memcmp(before, after, lb));
	free(before);
	free(after);
}

static void patch(const char *path, uint64_t off, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY);

	CHECK(fd >= 0 && pwrite(fd, bytes, n, (off_t)off) == (ssize_t)n);
	if (fd >= 0)
		close(fd);
}

static void test_bad_images(void)
{
	struct blk_create_opts o = { .format = BLK_FMT_QCOW2, .size = MiB };
	uint8_t v[4], dirty[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	struct blk_opts bo = { .path = p("dirty.qcow2"), .readonly = true };
	struct blk *b = NULL;

	o.path = p("bad.qcow2");
	CHECK(blk_image_create(&o) == 0);
	put32(v, 99);
	patch(p("bad.qcow2"), 4, v, 4); /* version 99 */
	expect_open_fail(p("bad.qcow2"), false, -ENOTSUP);
	put32(v, 3);
	patch(p("bad.qcow2"), 4, v, 4);
	put32(v, 0);
	patch(p("bad.qcow2"), 36, v, 4); /* L1 too small for the size */
	expect_open_fail(p("bad.qcow2"), false, -EINVAL);

	o.path = p("dirty.qcow2");
	CHECK(blk_image_create(&o) == 0);
	patch(p("dirty.qcow2"), 72, dirty, 8);
	expect_open_fail(p("dirty.qcow2"), false, -EROFS);
	CHECK(blk_open(&bo, &b) == 0); /* read-only is fine */
	blk_close(b);

	/* a backing loop: p2 -> p1 -> p2 (names patched in place) */
	o.path = p("p0.qcow2");
	CHECK(blk_image_create(&o) == 0);
	o.path = p("p1.qcow2");
	o.backing = "p0.qcow2";
	CHECK(blk_image_create(&o) == 0);
	o.path = p("p2.qcow2");
	o.backing = "p1.qcow2";
	CHECK(blk_image_create(&o) == 0);
	{
		uint8_t *img = NULL;
		size_t len = 0;

		CHECK(read_file(p("p1.qcow2"), 1 << 24, &img, &len) == 0);
		for (size_t i = 0; img && i + 8 < len && i < 65536; i++)
			if (!memcmp(img + i, "p0.qcow2", 8)) {
				patch(p("p1.qcow2"), i, "p2.qcow2", 8);
				break;
			}
		free(img);
	}
	expect_open_fail(p("p2.qcow2"), false, -ELOOP);
	expect_open_fail(p("p1.qcow2"), true, -ELOOP);
	/* a missing backing file */
	unlink(p("p0.qcow2"));
	o.path = p("p3.qcow2");
	o.backing = "p0.qcow2";
	CHECK(blk_image_create(&o) == -ENOENT);
	CHECK(access(p("p3.qcow2"), F_OK) != 0);
}

static void zero_done(void *opaque, int result)
{
	*(volatile int *)opaque = result == 0 ? 1 : -1;
}

/* WRITE_ZEROES and wait. 0 or -errno. */
static int zero_sync(struct blk *b, uint64_t off, uint64_t len)
{
	volatile int st = 0;
	int rc = blk_submit(b, BLK_OP_WRITE_ZEROES, off, NULL, 0, len, zero_done, (void *)&st);

	while (!rc && !st)
		usleep(100);
	return rc ? rc : st == 1 ? 0 : -EIO;
}

/* Write random data through xvm into img (content also in shadow), then
 * let qemu-img judge: check must be clean and compare must match. */
static void xvm_writes_qemu_judges(const char *img, uint8_t *shadow, uint64_t size,
				   int nwrites)
{
	struct blk_opts o = { .path = img };
	uint8_t *buf = malloc(256 * 1024);
	struct blk *b = NULL;

	CHECK(blk_open(&o, &b) == 0);
	if (!b || !buf) {
		free(buf);
		return;
	}
	for (int i = 0; i < nwrites; i++) {
		uint64_t len = (1 + rnd() % 512) * 512, off = (rnd() % (size / 512)) * 512;

		if (off + len > size)
			len = size - off;
		if (rnd() % 8 == 0) {
			CHECK(zero_sync(b, off, len) == 0);
			memset(shadow + off, 0, len);
			continue;
		}
		fill(buf, len);
		CHECK(blk_pwrite(b, buf, len, off) == 0);
		memcpy(shadow + off, buf, len);
	}
	blk_close(b);
	CHECK(write_file(p("shadow.raw"), shadow, size) == 0);
	CHECK(sh("qemu-img check -q '%s'", img) == 0);
	CHECK(sh("qemu-img compare -q '%s' '%s'", img, p("shadow.raw")) == 0);
	{
		struct blk_check r;

		CHECK(blk_image_check(img, &r) == 0 && !r.corruptions && !r.leaks);
	}
	free(buf);
}

/* A chain: qcow2 over qcow2 over the compressed image, made and written by xvm. */
static void test_chain(uint8_t *shadow, uint64_t size)
{
	struct blk_opts o = { .readonly = true };
	struct blk *b = NULL;

	{
		struct blk_create_opts c = { .path = p("mid.qcow2"), .format = BLK_FMT_QCOW2,
					     .backing = "comp.qcow2" };

		CHECK(blk_image_create(&c) == 0);
		c.path = p("top.qcow2");
		c.backing = "mid.qcow2";
		c.cluster_bits = 12;
		CHECK(blk_image_create(&c) == 0);
		CHECK(sh("qemu-img compare -q '%s' '%s'", p("top.qcow2"), p("comp.qcow2")) == 0);
		o.path = p("comp.qcow2");
		b = NULL;
		CHECK(blk_open(&o, &b) == 0);
		if (b) {
			CHECK(blk_pread(b, shadow, size, 0) == 0);
			blk_close(b);
		}
		xvm_writes_qemu_judges(p("top.qcow2"), shadow, size, 200);
	}
}

/* Images made by qemu-img (compressed, small clusters, odd refcount widths,
 * v2, backing files) read correctly and stay clean after xvm writes. */
static void test_qemu_interop(void)
{
	const uint64_t size = 24 * MiB;
	uint8_t *base = malloc(size), *shadow = malloc(size), *got = malloc(size);
	struct blk_opts o = { .readonly = true };
	struct blk *b = NULL;

	if (!base || !shadow || !got)
		goto out;
	fill(base, size);
	memset(base + 4 * MiB, 0, 2 * MiB); /* a hole qemu-img convert skips */
	for (uint64_t i = 8 * MiB; i < 12 * MiB; i += 4096)
		memset(base + i, 'x', 2048); /* compressible */
	CHECK(write_file(p("base.raw"), base, size) == 0);

	/* compressed clusters read back exactly; writes over them stay clean */
	CHECK(sh("qemu-img convert -c -O qcow2 '%s' '%s'", p("base.raw"), p("comp.qcow2")) == 0);
	o.path = p("comp.qcow2");
	CHECK(blk_open(&o, &b) == 0);
	if (b) {
		CHECK(blk_pread(b, got, size, 0) == 0);
		CHECK(!memcmp(got, base, size));
		blk_close(b);
	}
	memcpy(shadow, base, size);
	xvm_writes_qemu_judges(p("comp.qcow2"), shadow, size, 200);

	/* 4 KiB clusters over a raw base: many L2 tables and refcount blocks */
	CHECK(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 -b base.raw -F raw '%s'",
		 p("small.qcow2")) == 0);
	memcpy(shadow, base, size);
	xvm_writes_qemu_judges(p("small.qcow2"), shadow, size, 400);

	/* 512-byte clusters: the refcount table (8 MiB of host clusters) must grow */
	CHECK(sh("qemu-img create -q -f qcow2 -o cluster_size=512 '%s' 24M", p("c512.qcow2")) == 0);
	{
		uint8_t h0[60], h1[60];
		int fd = open(p("c512.qcow2"), O_RDONLY);

		CHECK(fd >= 0 && pread(fd, h0, 60, 0) == 60);
		memset(shadow, 0, size);
		xvm_writes_qemu_judges(p("c512.qcow2"), shadow, size, 300);
		CHECK(fd >= 0 && pread(fd, h1, 60, 0) == 60);
		CHECK(memcmp(h0 + 48, h1 + 48, 12) != 0); /* the table moved */
		if (fd >= 0)
			close(fd);
	}
	/* refcount widths 1 and 64, and a version 2 image */
	CHECK(sh("qemu-img create -q -f qcow2 -o refcount_bits=1,cluster_size=8192 '%s' 24M",
		 p("rc1.qcow2")) == 0);
	memset(shadow, 0, size);
	xvm_writes_qemu_judges(p("rc1.qcow2"), shadow, size, 200);
	CHECK(sh("qemu-img create -q -f qcow2 -o refcount_bits=64 '%s' 24M", p("rc64.qcow2")) == 0);
	memset(shadow, 0, size);
	xvm_writes_qemu_judges(p("rc64.qcow2"), shadow, size, 200);
	CHECK(sh("qemu-img create -q -f qcow2 -o preallocation=metadata '%s' 24M",
		 p("prealloc.qcow2")) == 0);
	memset(shadow, 0, size);
	xvm_writes_qemu_judges(p("prealloc.qcow2"), shadow, size, 200);
	CHECK(sh("qemu-img create -q -f qcow2 -o compat=0.10 '%s' 24M", p("v2.qcow2")) == 0);
	memset(shadow, 0, size);
	xvm_writes_qemu_judges(p("v2.qcow2"), shadow, size, 200);

	test_chain(shadow, size);
out:
	free(base);
	free(shadow);
	free(got);
}

/* The crash writer's i-th write: a deterministic range and seed. */
static void crash_write(uint64_t i, uint64_t size, uint64_t *off, uint64_t *len)
{
	uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 29;
	*len = (1 + x % 128) * 512;
	*off = ((x >> 8) % (size / 512)) * 512;
	if (*off + *len > size)
		*len = size - *off;
}

static void crash_fill(uint64_t i, uint8_t *buf, uint64_t len)
{
	for (uint64_t k = 0; k < len; k++)
		buf[k] = (uint8_t)(i * 31 + k / 512);
}

#define CRASH_BATCH 8

/* Child: write forever, flushing every CRASH_BATCH writes and reporting the
 * number of flushed writes on fd. */
static void crash_child(const char *img, uint64_t size, int fd)
{
	struct blk_opts o = { .path = img };
	uint8_t *buf = malloc(128 * 512);
	struct blk *b = NULL;

	if (!buf || blk_open(&o, &b))
		_exit(1);
	for (uint64_t i = 0;; i++) {
		uint64_t off, len;

		crash_write(i, size, &off, &len);
		crash_fill(i, buf, len);
		if (blk_pwrite(b, buf, len, off))
			_exit(1);
		if ((i + 1) % CRASH_BATCH == 0) {
			if (blk_flush(b) || write(fd, &(uint64_t){ i + 1 }, 8) != 8)
				_exit(1);
		}
	}
}

/* kill -9 a writer mid-stream: qemu-img check finds at most leaks, every
 * flushed write is there, and `qemu-img check -r leaks` makes it clean. */
static void test_crash(const char *name, const char *backing)
{
	const uint64_t size = 32 * MiB;
	struct blk_create_opts c = { .path = p(name), .format = BLK_FMT_QCOW2, .size = size,
				     .cluster_bits = 12, .backing = backing };
	uint8_t *shadow = calloc(1, size), *dirty = calloc(1, size / 512), *got = malloc(size);
	uint64_t flushed = 0, v, off, len;
	int fds[2], st, rc;
	pid_t pid;

	if (!shadow || !dirty || !got || pipe(fds))
		goto out;
	CHECK(blk_image_create(&c) == 0);
	if (backing) {
		uint8_t *bb = NULL;
		size_t bl = 0;

		CHECK(read_file(p(backing), size, &bb, &bl) == 0);
		if (bb)
			memcpy(shadow, bb, bl);
		free(bb);
	}
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		crash_child(p(name), size, fds[1]);
	}
	close(fds[1]);
	while (flushed < 400 && read(fds[0], &v, 8) == 8)
		flushed = v;
	usleep(3000 + rnd() % 5000);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	while (read(fds[0], &v, 8) == 8)
		flushed = v;
	close(fds[0]);
	CHECK(WIFSIGNALED(st) && flushed >= 400);
	printf("crash %s: killed after %llu flushed writes\n", name, (unsigned long long)flushed);
	for (uint64_t i = 0; i < flushed; i++) {
		crash_write(i, size, &off, &len);
		crash_fill(i, shadow + off, len);
	}
	for (uint64_t i = flushed; i < flushed + CRASH_BATCH; i++) {
		crash_write(i, size, &off, &len);
		memset(dirty + off / 512, 1, len / 512);
	}
	rc = sh("qemu-img check -q '%s' >/dev/null 2>&1", p(name));
	printf("crash %s: qemu-img check exit %d\n", name, rc);
	CHECK(rc == 0 || rc == 3); /* clean, or leaked clusters only */
	CHECK(sh("qemu-img check -q -r leaks '%s' >/dev/null 2>&1", p(name)) == 0);
	CHECK(sh("qemu-img check -q '%s'", p(name)) == 0);
	{
		struct blk_opts o = { .path = p(name), .readonly = true };
		struct blk *b = NULL;
		uint64_t bad = 0;

		CHECK(blk_open(&o, &b) == 0);
		if (b) {
			CHECK(blk_pread(b, got, size, 0) == 0);
			blk_close(b);
		}
		for (uint64_t s = 0; s < size / 512; s++)
			if (!dirty[s] && memcmp(got + s * 512, shadow + s * 512, 512))
				bad++;
		CHECK(bad == 0);
		if (bad)
			printf("crash %s: %llu flushed sectors wrong\n", name, (unsigned long long)bad);
	}
out:
	free(shadow);
	free(dirty);
	free(got);
}

int main(void)
{
	log_init("xvm", LOG_ERR);
	snprintf(dir, sizeof(dir), "/tmp/xvm-test-qcow2-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	have_qemu_img = sh("qemu-img --version >/dev/null 2>&1") == 0;
	test_header_parser();
	test_bad_images();
	if (have_qemu_img) {
		test_qemu_interop();
		test_crash("crash.qcow2", NULL);
		test_crash("crash-ov.qcow2", "base.raw");
	}
	if (sh("rm -rf '%s'", dir))
		fprintf(stderr, "cleanup of %s failed\n", dir);
	if (!have_qemu_img) {
		int rc = check_report("qcow2");

		printf("qemu-img not installed: interop and crash tests skipped\n");
		return rc ? rc : 77;
	}
	return check_report("qcow2");
}
