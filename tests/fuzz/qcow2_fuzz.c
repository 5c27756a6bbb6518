/* qcow2_fuzz.c - libFuzzer target: open arbitrary bytes as qcow2, read through L1/L2/compressed clusters, check refcounts, write. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/qcow2.h"
#include "xvm/log.h"
#include "xvm/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Read a bounded sample of the virtual disk: the start, and one block in
 * each of the first L2 ranges (where a fuzzed L1 points anywhere). */
static void read_sample(struct blk_node *n)
{
	static uint8_t buf[256 * 1024];
	const struct qcow2 *q = n->priv;
	uint64_t cover = n->ops->format == BLK_FMT_QCOW2 ?
		(uint64_t)q->cs * q->l2_entries : (1ULL << 20);

	(void)blk_node_read(n, buf, sizeof(buf), 0);
	for (uint64_t i = 1; i < 16 && i * cover < n->size; i++)
		(void)blk_node_read(n, buf, 8192, i * cover + (i * 4096) % cover);
}

/* Write through the damaged metadata too: allocation, copy-on-write of
 * compressed clusters, zeroing, the refcount table growing, a commit. */
static void write_sample(struct blk_node *n)
{
	static uint8_t buf[8192];
	uint64_t at[] = { 0, 4096, 65536 + 512, n->size / 2 & ~511ULL, n->size - 8192 };

	memset(buf, 0xa5, sizeof(buf));
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		if (n->size < 8192 || at[i] > n->size - 8192)
			continue;
		if (n->ops->rw(n, i == 3 ? BLK_OP_WRITE_ZEROES : BLK_OP_WRITE, at[i], buf,
			       sizeof(buf)))
			break;
	}
	if (n->ops->flush)
		(void)n->ops->flush(n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], path[96];
	struct blk_node *n;
	struct blk_check r;
	int fd;

	if (!dir[0]) {
		log_init("xvm", LOG_ERR); /* each rejected input logs its one line */
		snprintf(dir, sizeof(dir), "/tmp/xvm-qcow2-fuzz-%d", (int)getpid());
		mkdir(dir, 0700);
		snprintf(path, sizeof(path), "%s/img", dir);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write_all(fd, data, size)) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	close(fd);
	if (!blk_node_open(path, BLK_FMT_QCOW2, BLK_NODE_RO | BLK_NODE_NOLOCK, 0, NULL,
			   NULL, &n)) {
		read_sample(n);
		blk_node_close(n);
		(void)blk_image_check(path, &r);
		if (size < (1u << 20) && !blk_node_open(path, BLK_FMT_QCOW2, BLK_NODE_NOLOCK, 0,
							NULL, NULL, &n)) {
			write_sample(n);
			blk_node_close(n);
		}
	}
	return 0;
}
