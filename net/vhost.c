/* vhost.c - vhost-net groundwork: memory table, feature choice, a probe of /dev/vhost-net. */
#include "xvm/vhost.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "xvm/guestmem.h"

#define RING_FEATURES ((1ULL << 28) | (1ULL << 29) | (1ULL << 32) | (1ULL << 15))

unsigned vhost_mem_regions(const struct guestmem *gm, struct vhost_region r[2])
{
	unsigned n = 0;

	r[n++] = (struct vhost_region){ .gpa = 0, .size = gm->low_size,
					.uaddr = (uint64_t)(uintptr_t)gm->host };
	if (gm->high_size)
		r[n++] = (struct vhost_region){
			.gpa = GUESTMEM_4G, .size = gm->high_size,
			.uaddr = (uint64_t)(uintptr_t)(gm->host + gm->low_size) };
	return n;
}

uint64_t vhost_net_ack(uint64_t vhost_features, uint64_t guest_features)
{
	uint64_t want = guest_features & RING_FEATURES;

	if (!(want & (1ULL << 32)) || (want & ~vhost_features))
		return 0;
	return want;
}

int vhost_net_probe(const struct guestmem *gm, uint64_t *features)
{
	struct vhost_region r[2];
	unsigned n = vhost_mem_regions(gm, r);
	struct vhost_memory *mem = calloc(1, sizeof(*mem) + 2 * sizeof(mem->regions[0]));
	int fd, rc = 0;

	if (!mem)
		return -ENOMEM;
	mem->nregions = n;
	for (unsigned i = 0; i < n; i++)
		mem->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = r[i].gpa, .memory_size = r[i].size,
			.userspace_addr = r[i].uaddr };
	fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		rc = -errno;
	else if (ioctl(fd, VHOST_SET_OWNER) < 0 || ioctl(fd, VHOST_GET_FEATURES, features) < 0 ||
		 ioctl(fd, VHOST_SET_MEM_TABLE, mem) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	free(mem);
	return rc;
}
