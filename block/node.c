/* node.c - opening one image file of a chain: probe, permissions, locks, loop checks. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/blk_int.h"
#include "xvm/log.h"

enum blk_format blk_probe(const uint8_t *hdr, size_t len)
{
	if (len >= 4 && !memcmp(hdr, "QFI\xfb", 4))
		return BLK_FMT_QCOW2;
	return BLK_FMT_RAW;
}

int blk_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			memset(p, 0, len);
			return 0;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int blk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int blk_node_read(struct blk_node *n, void *buf, uint64_t len, uint64_t off)
{
	uint64_t in = 0;

	if (off < n->size)
		in = MIN_U64(len, n->size - off);
	if (in) {
		int rc = n->ops->rw(n, BLK_OP_READ, off, buf, in);

		if (rc)
			return rc;
	}
	memset((char *)buf + in, 0, len - in);
	return 0;
}

/* Open the file itself: mode and lock checks. fd or -errno (logged). */
static int open_file(const char *path, unsigned flags, struct stat *st)
{
	bool readonly = flags & BLK_NODE_RO;

	int fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		if (!readonly && (e == EACCES || e == EROFS) && !access(path, R_OK))
			log_err("open %s: image is read-only (open it read-only, or make it writable)", path);
		else
			log_err("open %s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, st)) {
		int e = errno;

		log_err("open %s: %s", path, strerror(e));
		close(fd);
		return -e;
	}
	if (!S_ISREG(st->st_mode) && !S_ISBLK(st->st_mode)) {
		log_err("open %s: not a regular file or block device", path);
		close(fd);
		return -EINVAL;
	}
	if (!readonly && !(st->st_mode & (S_IWUSR | S_IWGRP | S_IWOTH))) {
		log_err("open %s: image is read-only (mode %04o; a frozen base?)",
			path, (unsigned)(st->st_mode & 07777));
		close(fd);
		return -EROFS;
	}
	return fd;
}

/* Share-lock a read-only node, exclusively lock a writable one. 0 or -errno. */
static int lock_file(int fd, const char *path, unsigned flags)
{
	if (flags & BLK_NODE_NOLOCK)
		return 0;
	if (flock(fd, ((flags & BLK_NODE_RO) ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
		int e = errno;

		log_err("open %s: %s", path, e == EWOULDBLOCK ?
			"image is in use by another process" : strerror(e));
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	return 0;
}

static const struct blk_format_ops *ops_for(enum blk_format f)
{
	return f == BLK_FMT_QCOW2 ? &blk_qcow2_ops : &blk_raw_ops;
}

int blk_node_open(const char *path, enum blk_format fmt, unsigned flags,
		  int depth, const dev_t *devs, const ino_t *inos,
		  struct blk_node **out)
{
	dev_t dv[BLK_MAX_CHAIN];
	ino_t in[BLK_MAX_CHAIN];
	struct blk_node *n;
	struct stat st;
	uint8_t hdr[4];
	int fd, rc;

	if (depth >= BLK_MAX_CHAIN) {
		log_err("open %s: backing chain deeper than %d", path, BLK_MAX_CHAIN);
		return -ELOOP;
	}
	fd = open_file(path, flags, &st);
	if (fd < 0)
		return fd;
	for (int i = 0; i < depth; i++) {
		if (devs[i] == st.st_dev && inos[i] == st.st_ino) {
			log_err("open %s: backing loop (the file backs itself)", path);
			close(fd);
			return -ELOOP;
		}
		dv[i] = devs[i];
		in[i] = inos[i];
	}
	rc = lock_file(fd, path, flags);
	if (rc) {
		close(fd);
		return rc;
	}
	dv[depth] = st.st_dev;
	in[depth] = st.st_ino;
	if (fmt == BLK_FMT_AUTO) {
		rc = blk_pread_full(fd, hdr, sizeof(hdr), 0);
		if (rc) {
			log_err("open %s: %s", path, strerror(-rc));
			close(fd);
			return rc;
		}
		fmt = blk_probe(hdr, (size_t)MIN_U64(sizeof(hdr), (uint64_t)st.st_size));
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->path = strdup(path))) {
		free(n);
		close(fd);
		return -ENOMEM;
	}
	n->fd = fd;
	n->readonly = flags & BLK_NODE_RO;
	n->nolock = flags & BLK_NODE_NOLOCK;
	n->ops = ops_for(fmt);
	rc = n->ops->open(n, depth + 1, dv, in);
	if (rc) {
		close(fd);
		free(n->path);
		free(n);
		return rc;
	}
	*out = n;
	return 0;
}

void blk_node_close(struct blk_node *n)
{
	while (n) {
		struct blk_node *b = n->backing;

		n->ops->close(n);
		close(n->fd);
		free(n->path);
		free(n);
		n = b;
	}
}
