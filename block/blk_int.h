/* blk_int.h - inside the block layer: image nodes, the format ops table, mapping extents. */
#ifndef XVM_BLOCK_INT_H
#define XVM_BLOCK_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "xvm/block.h"

#define BLK_MAX_CHAIN 64 /* backing files deeper than this are refused */
#define MIN_U64(a, b) ((uint64_t)(a) < (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))
#define MAX_U64(a, b) ((uint64_t)(a) > (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))
#define ALIGN_UP_512(x) (((uint64_t)(x) + 511) & ~(uint64_t)511)

/* Where a guest range lives, as far as a fast (engine) request can tell. */
enum ext_kind {
	EXT_DATA, /* bytes at host_off in fd */
	EXT_ZERO, /* reads as zeroes */
	EXT_SLOW, /* needs the format's synchronous path (allocation, compression) */
};

struct blk_extent {
	enum ext_kind kind;
	int fd;
	uint64_t host_off;
	uint64_t len; /* > 0, at most what was asked */
};

struct blk_node;

/* One image format. Every function returns 0 or -errno. */
struct blk_format_ops {
	const char *name;
	enum blk_format format;
	/* Read the metadata of n (n->fd, n->path, n->readonly set); set
	 * n->size and n->priv; may open the backing chain with blk_node_open.
	 * Logs one line on failure. */
	int (*open)(struct blk_node *n, int depth, const dev_t *devs,
		    const ino_t *inos);
	void (*close)(struct blk_node *n);
	/* Map the start of [off, off+len) for a read (write=false) or an
	 * in-place write (write=true); see enum ext_kind. */
	int (*map)(struct blk_node *n, bool write, uint64_t off, uint64_t len,
		   struct blk_extent *ext);
	/* Blocking READ/WRITE/DISCARD/WRITE_ZEROES done with plain syscalls. */
	int (*rw)(struct blk_node *n, enum blk_op op, uint64_t off, void *buf,
		  uint64_t len);
	/* Blocking: make everything completed before durable, including
	 * metadata held in memory. NULL: an fdatasync through the engine will do. */
	int (*flush)(struct blk_node *n);
};

/* One file of a chain. */
struct blk_node {
	const struct blk_format_ops *ops;
	int fd;
	char *path;     /* as given (or resolved against the overlay's directory) */
	bool readonly;
	bool nolock;    /* opened with BLK_NODE_NOLOCK (and so is the chain) */
	uint64_t size;  /* virtual size */
	void *priv;     /* the format's state */
	struct blk_node *backing;
};

extern const struct blk_format_ops blk_raw_ops;
extern const struct blk_format_ops blk_qcow2_ops;

/* Open path as a node of the given format (AUTO probes) and its backing
 * chain. depth counts the nodes above; devs/inos identify them (loop check).
 * Returns 0 or -errno after logging one line. */
#define BLK_NODE_RO 1     /* open read-only (backing files always are) */
#define BLK_NODE_NOLOCK 2 /* take no flock (inspection of an image in use) */
int blk_node_open(const char *path, enum blk_format fmt, unsigned flags,
		  int depth, const dev_t *devs, const ino_t *inos,
		  struct blk_node **out);
/* Close n and everything below it. */
void blk_node_close(struct blk_node *n);
/* Blocking read of a node into buf (zeroes past its end). 0 or -errno. */
int blk_node_read(struct blk_node *n, void *buf, uint64_t len, uint64_t off);
/* The format that the first bytes of a file announce. */
enum blk_format blk_probe(const uint8_t *hdr, size_t len);
/* pread/pwrite the whole length (reads past end-of-file give zeroes). */
int blk_pread_full(int fd, void *buf, size_t len, uint64_t off);
int blk_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

#endif
