/* raw.c - the raw image format: guest offset = file offset. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "block/blk_int.h"
#include "xvm/log.h"

static int raw_open(struct blk_node *n, int depth, const dev_t *devs,
		    const ino_t *inos)
{
	struct stat st;

	(void)depth;
	(void)devs;
	(void)inos;
	if (fstat(n->fd, &st)) {
		int e = errno;

		log_err("open %s: %s", n->path, strerror(e));
		return -e;
	}
	n->size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(n->fd, BLKGETSIZE64, &n->size)) {
		int e = errno;

		log_err("open %s: size: %s", n->path, strerror(e));
		return -e;
	}
	return 0;
}

static void raw_close(struct blk_node *n)
{
	(void)n;
}

static int raw_map(struct blk_node *n, bool write, uint64_t off, uint64_t len,
		   struct blk_extent *ext)
{
	(void)write;
	ext->kind = EXT_DATA;
	ext->fd = n->fd;
	ext->host_off = off;
	ext->len = len;
	return 0;
}

/* Make [off, off+len) read as zeroes, deallocating when dealloc. */
static int raw_zero(struct blk_node *n, uint64_t off, uint64_t len, bool dealloc)
{
	static const char zero[65536];

	if (!fallocate(n->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		       (off_t)off, (off_t)len))
		return 0;
	if (!dealloc || errno != EOPNOTSUPP) {
		if (!fallocate(n->fd, FALLOC_FL_ZERO_RANGE, (off_t)off, (off_t)len))
			return 0;
	}
	if (dealloc)
		return 0; /* discard is advisory */
	while (len) {
		size_t k = (size_t)MIN_U64(len, sizeof(zero));
		int rc = blk_pwrite_full(n->fd, zero, k, off);

		if (rc)
			return rc;
		off += k;
		len -= k;
	}
	return 0;
}

static int raw_rw(struct blk_node *n, enum blk_op op, uint64_t off, void *buf,
		  uint64_t len)
{
	switch (op) {
	case BLK_OP_READ:
		return blk_pread_full(n->fd, buf, len, off);
	case BLK_OP_WRITE:
		return blk_pwrite_full(n->fd, buf, len, off);
	case BLK_OP_DISCARD:
		return raw_zero(n, off, len, true);
	case BLK_OP_WRITE_ZEROES:
		return raw_zero(n, off, len, false);
	default:
		return -EINVAL;
	}
}

const struct blk_format_ops blk_raw_ops = {
	.name = "raw",
	.format = BLK_FMT_RAW,
	.open = raw_open,
	.close = raw_close,
	.map = raw_map,
	.rw = raw_rw,
};
