/* image.c - creating images, and constant-time snapshot and clone by overlay + rename. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "xvm/log.h"

const char *blk_format_name(enum blk_format f)
{
	return f == BLK_FMT_RAW ? "raw" : f == BLK_FMT_QCOW2 ? "qcow2" : "auto";
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Fill the first cluster: header, backing-format extension, end, name. */
static int fill_header(uint8_t *c, uint32_t cs, unsigned cb, uint64_t size,
		       uint64_t rt_off, uint32_t rt_clusters, uint64_t l1_off,
		       uint32_t l1_size, const char *backing, const char *bfmt)
{
	size_t at = QCOW2_V3_HEADER_LEN;

	put32(c, QCOW2_MAGIC);
	put32(c + 4, 3);
	put32(c + 20, cb);
	qcow2_put_be64(c + 24, size);
	put32(c + 36, l1_size);
	qcow2_put_be64(c + 40, l1_off);
	qcow2_put_be64(c + 48, rt_off);
	put32(c + 56, rt_clusters);
	put32(c + 96, 4); /* 16-bit refcounts */
	put32(c + 100, QCOW2_V3_HEADER_LEN);
	if (backing) {
		size_t fl = strlen(bfmt), bl = strlen(backing);

		if (bl > 1023 || at + 8 + ((fl + 7) & ~7u) + 8 + bl > cs)
			return -ENAMETOOLONG;
		put32(c + at, QCOW2_EXT_BACKING_FMT);
		put32(c + at + 4, (uint32_t)fl);
		memcpy(c + at + 8, bfmt, fl);
		at += 8 + ((fl + 7) & ~7u);
		at += 8; /* end-of-extensions marker: zeroes */
		memcpy(c + at, backing, bl);
		qcow2_put_be64(c + 8, at);
		put32(c + 16, (uint32_t)bl);
	}
	return 0;
}

/* Write a fresh qcow2 v3: header, refcount table, one refcount block, L1. */
static int write_qcow2(int fd, uint64_t size, unsigned cb, const char *backing,
		       const char *bfmt)
{
	uint64_t cs = 1ULL << cb, l2_cover = cs * (cs / 8);
	uint64_t l1_size = (size + l2_cover - 1) / l2_cover;
	uint64_t l1_clusters = (l1_size * 8 + cs - 1) / cs;
	/* host clusters one refcount-table cluster can describe */
	uint64_t rt_cover = (cs / 8) * (cs * 8 / 16);
	uint64_t need = (size + size / 4) / cs + l1_size * 2 + 64;
	uint64_t rt_clusters = (need + rt_cover - 1) / rt_cover, total, len;
	uint8_t *m;
	int rc;

	if (l1_size * 8 > QCOW2_MAX_L1_BYTES || rt_clusters * cs > QCOW2_MAX_RT_BYTES)
		return -EFBIG;
	total = 1 + rt_clusters + 1 + l1_clusters;
	if (total > cs * 8 / 16)
		return -EFBIG; /* metadata must fit the first refcount block */
	len = total * cs;
	m = calloc(1, len);
	if (!m)
		return -ENOMEM;
	rc = fill_header(m, (uint32_t)cs, cb, size, cs, (uint32_t)rt_clusters,
			 (2 + rt_clusters) * cs, (uint32_t)l1_size, backing, bfmt);
	if (!rc) {
		uint8_t *rb = m + (1 + rt_clusters) * cs;

		qcow2_put_be64(m + cs, (1 + rt_clusters) * cs); /* table -> block 0 */
		for (uint64_t i = 0; i < total; i++)
			rb[i * 2 + 1] = 1;
		rc = blk_pwrite_full(fd, m, (size_t)len, 0);
	}
	if (!rc && fdatasync(fd))
		rc = -errno;
	free(m);
	return rc;
}

/* Open the backing chain named in o (relative to o->path's directory) to
 * learn its format and size. 0 or -errno (logged). */
static int probe_backing(const struct blk_create_opts *o, enum blk_format *fmt,
			 uint64_t *size)
{
	char *dup = strdup(o->path), *path = NULL;
	struct blk_node *n;
	int rc;

	if (!dup)
		return -ENOMEM;
	if (o->backing[0] == '/' || !strchr(o->path, '/'))
		path = strdup(o->backing);
	else if (asprintf(&path, "%s/%s", dirname(dup), o->backing) < 0)
		path = NULL;
	free(dup);
	if (!path)
		return -ENOMEM;
	rc = blk_node_open(path, o->backing_format, BLK_NODE_RO | BLK_NODE_NOLOCK, 0,
			   NULL, NULL, &n);
	free(path);
	if (rc)
		return rc;
	*fmt = n->ops->format;
	*size = n->size;
	blk_node_close(n);
	return 0;
}

int blk_image_create(const struct blk_create_opts *o)
{
	enum blk_format fmt = o->format == BLK_FMT_RAW ? BLK_FMT_RAW : BLK_FMT_QCOW2;
	enum blk_format bfmt = BLK_FMT_AUTO;
	unsigned cb = o->cluster_bits ? o->cluster_bits : 16;
	uint64_t size = o->size, bsize = 0;
	int fd, rc;

	if (o->backing && fmt == BLK_FMT_RAW) {
		log_err("create %s: a raw image cannot have a backing file", o->path);
		return -EINVAL;
	}
	if (cb < 9 || cb > 21) {
		log_err("create %s: cluster size must be a power of two from 512 to 2M", o->path);
		return -EINVAL;
	}
	if (o->backing && (rc = probe_backing(o, &bfmt, &bsize)))
		return rc;
	if (!size)
		size = bsize;
	if (!size && !o->backing) {
		log_err("create %s: a size is needed", o->path);
		return -EINVAL;
	}
	size = ALIGN_UP_512(size);
	fd = open(o->path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		log_err("create %s: %s", o->path, strerror(-rc));
		return rc;
	}
	if (fmt == BLK_FMT_RAW)
		rc = ftruncate(fd, (off_t)size) ? -errno : 0;
	else
		rc = write_qcow2(fd, size, cb, o->backing, blk_format_name(bfmt));
	if (close(fd) && !rc)
		rc = -errno;
	if (rc) {
		log_err("create %s: %s", o->path, rc == -EFBIG ?
			"too large for this cluster size" : strerror(-rc));
		unlink(o->path);
	}
	return rc;
}

/* "<dir>/<stem>.snap-<UTC>.<ext>" beside disk (malloc'd), or NULL. */
static char *default_base(const char *disk)
{
	const char *slash = strrchr(disk, '/'), *name = slash ? slash + 1 : disk;
	const char *dot = strrchr(name, '.');
	char stamp[32], *out = NULL;
	time_t now = time(NULL);
	struct tm tm;
	int stem = dot && dot != name ? (int)(dot - disk) : (int)strlen(disk);

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (int i = 0; i < 100; i++) {
		char sfx[8] = "";

		if (i)
			snprintf(sfx, sizeof(sfx), "-%d", i);
		free(out);
		if (asprintf(&out, "%.*s.snap-%s%s%s", stem, disk, stamp, sfx,
			     dot && dot != name ? dot : "") < 0)
			return NULL;
		if (access(out, F_OK))
			return out;
	}
	free(out);
	return NULL;
}

/* The name an overlay at overlay_path should record for base_path: the
 * bare file name when both sit in one directory, else an absolute path. */
static char *backing_name(const char *overlay_path, const char *base_path)
{
	char *a = strdup(overlay_path), *b = strdup(base_path), *out = NULL;
	char ra[PATH_MAX], rb[PATH_MAX];

	if (a && b && realpath(dirname(a), ra) && realpath(base_path, rb)) {
		char *bdup = strdup(rb), *slash;

		if (bdup && (slash = strrchr(bdup, '/'))) {
			*slash = 0;
			out = strdup(!strcmp(bdup, ra) ? slash + 1 : rb);
		}
		free(bdup);
	}
	free(a);
	free(b);
	return out;
}

/* Create an overlay at path on base (format bf, size). 0 or -errno (logged). */
static int make_overlay(const char *path, const char *base, enum blk_format bf,
			uint64_t size, unsigned cb)
{
	struct blk_create_opts o = {
		.path = path, .format = BLK_FMT_QCOW2, .size = size,
		.cluster_bits = cb, .backing_format = bf,
	};
	char *name = backing_name(path, base);
	int rc;

	if (!name) {
		log_err("create %s: resolving %s: %s", path, base, strerror(errno ? errno : ENOMEM));
		return -ENOENT;
	}
	o.backing = name;
	rc = blk_image_create(&o);
	free(name);
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char *d = strdup(path);
	int fd, rc = 0;

	if (!d)
		return -ENOMEM;
	fd = open(dirname(d), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(d);
	if (fd < 0 || fsync(fd))
		rc = -errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Validate disk (a writable image, not in use) and take its lock.
 * Returns the locked fd or -errno (logged). */
static int lock_disk(const char *disk, enum blk_format *fmt, uint64_t *size,
		     unsigned *cb)
{
	struct blk_node *n;
	int fd, rc = blk_node_open(disk, BLK_FMT_AUTO, 0, 0, NULL, NULL, &n);

	if (rc)
		return rc;
	*fmt = n->ops->format;
	*size = n->size;
	*cb = *fmt == BLK_FMT_QCOW2 ? ((struct qcow2 *)n->priv)->h.cluster_bits : 16;
	blk_node_close(n);
	fd = open(disk, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		rc = -errno;
		log_err("snapshot %s: %s", disk, rc == -EWOULDBLOCK ?
			"image is in use by another process" : strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	return fd;
}

int blk_image_snapshot(const char *disk, const char *base, char **base_out)
{
	char *b = base ? strdup(base) : default_base(disk), *tmp = NULL;
	enum blk_format fmt = BLK_FMT_AUTO;
	unsigned cb = 16;
	uint64_t size = 0;
	struct stat st;
	int lk, rc;

	if (!b || asprintf(&tmp, "%s.tmp-%d", disk, (int)getpid()) < 0) {
		free(b);
		return -ENOMEM;
	}
	lk = lock_disk(disk, &fmt, &size, &cb);
	rc = lk < 0 ? lk : 0;
	if (!rc && (rc = fstat(lk, &st) ? -errno : 0))
		log_err("snapshot %s: %s", disk, strerror(-rc));
	if (!rc && link(disk, b)) {
		rc = -errno;
		log_err("snapshot %s: base %s: %s", disk, b, strerror(-rc));
	}
	if (!rc) {
		rc = make_overlay(tmp, b, fmt, size, cb);
		if (!rc && rename(tmp, disk)) {
			rc = -errno;
			log_err("snapshot %s: rename: %s", disk, strerror(-rc));
			unlink(tmp);
		}
		if (rc)
			unlink(b); /* disk still names the untouched original */
	}
	if (!rc) {
		if (fchmod(lk, st.st_mode & 0444) || fsync_dir_of(disk))
			log_warn("snapshot %s: base %s: %s", disk, b, strerror(errno));
		chmod(disk, st.st_mode & 07777);
	}
	if (lk >= 0)
		close(lk);
	free(tmp);
	if (!rc && base_out)
		*base_out = b;
	else
		free(b);
	return rc;
}

int blk_image_clone(const char *src, const char *dst, char **base_out)
{
	struct blk_node *n;
	enum blk_format fmt;
	char *base = NULL;
	struct stat st;
	uint64_t size;
	unsigned cb;
	int rc;

	if (stat(src, &st)) {
		rc = -errno;
		log_err("clone %s: %s", src, strerror(-rc));
		return rc;
	}
	if (!access(dst, F_OK)) { /* before any snapshot of src */
		log_err("create %s: %s", dst, strerror(EEXIST));
		return -EEXIST;
	}
	if (st.st_mode & 0222) {
		rc = blk_image_snapshot(src, NULL, &base);
		if (rc)
			return rc;
	} else if (!(base = strdup(src))) {
		return -ENOMEM;
	}
	rc = blk_node_open(base, BLK_FMT_AUTO, BLK_NODE_RO, 0, NULL, NULL, &n);
	if (!rc) {
		fmt = n->ops->format;
		size = n->size;
		cb = fmt == BLK_FMT_QCOW2 ? ((struct qcow2 *)n->priv)->h.cluster_bits : 16;
		blk_node_close(n);
		rc = make_overlay(dst, base, fmt, size, cb);
	}
	if (!rc && base_out)
		*base_out = base;
	else
		free(base);
	return rc;
}
