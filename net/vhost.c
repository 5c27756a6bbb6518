/* vhost.c - vhost-net: memory table, feature choice, open/probe, ring start and stop. */
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

/* VHOST_SET_MEM_TABLE for gm on fd. 0 or -errno. */
static int vhost_set_mem(int fd, const struct guestmem *gm)
{
	struct vhost_region r[2];
	unsigned n = vhost_mem_regions(gm, r);
	struct vhost_memory *mem = calloc(1, sizeof(*mem) + 2 * sizeof(mem->regions[0]));
	int rc = 0;

	if (!mem)
		return -ENOMEM;
	mem->nregions = n;
	for (unsigned i = 0; i < n; i++)
		mem->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = r[i].gpa, .memory_size = r[i].size,
			.userspace_addr = r[i].uaddr };
	if (ioctl(fd, VHOST_SET_MEM_TABLE, mem) < 0)
		rc = -errno;
	free(mem);
	return rc;
}

int vhost_net_open(const struct guestmem *gm, uint64_t *features)
{
	int fd = open("/dev/vhost-net", O_RDWR | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, VHOST_SET_OWNER) < 0 || ioctl(fd, VHOST_GET_FEATURES, features) < 0)
		rc = -errno;
	else
		rc = vhost_set_mem(fd, gm);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int vhost_net_probe(const struct guestmem *gm, uint64_t *features)
{
	int fd = vhost_net_open(gm, features);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* The host address of ring area [gpa, gpa+len), or 0 when not all RAM. */
static uint64_t vhost_uaddr(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	return (uint64_t)(uintptr_t)gm_ptr(gm, gpa, len);
}

/* Ring i: size, base, addresses, kick and call. NULL or the failing step. */
static const char *vhost_ring_setup(int fd, const struct guestmem *gm, unsigned i,
				    const struct vhost_ring *r)
{
	struct vhost_vring_state num = { .index = i, .num = r->size };
	struct vhost_vring_state base = { .index = i, .num = r->base };
	struct vhost_vring_addr addr = {
		.index = i,
		.desc_user_addr = vhost_uaddr(gm, r->desc_gpa, 16ULL * r->size),
		.avail_user_addr = vhost_uaddr(gm, r->avail_gpa, 6 + 2ULL * r->size),
		.used_user_addr = vhost_uaddr(gm, r->used_gpa, 6 + 8ULL * r->size),
	};
	struct vhost_vring_file kick = { .index = i, .fd = r->kick_fd };
	struct vhost_vring_file call = { .index = i, .fd = r->call_fd };

	if (!addr.desc_user_addr || !addr.avail_user_addr || !addr.used_user_addr) {
		errno = EFAULT;
		return "ring outside RAM";
	}
	if (ioctl(fd, VHOST_SET_VRING_NUM, &num) < 0)
		return "VHOST_SET_VRING_NUM";
	if (ioctl(fd, VHOST_SET_VRING_BASE, &base) < 0)
		return "VHOST_SET_VRING_BASE";
	if (ioctl(fd, VHOST_SET_VRING_ADDR, &addr) < 0)
		return "VHOST_SET_VRING_ADDR";
	if (ioctl(fd, VHOST_SET_VRING_KICK, &kick) < 0)
		return "VHOST_SET_VRING_KICK";
	if (ioctl(fd, VHOST_SET_VRING_CALL, &call) < 0)
		return "VHOST_SET_VRING_CALL";
	return NULL;
}

int vhost_net_start(int fd, const struct guestmem *gm, uint64_t ack,
		    const struct vhost_ring r[VHOST_NET_RINGS], int tap_fd, const char **step)
{
	unsigned i, started = 0;
	int rc;

	*step = "VHOST_SET_FEATURES";
	if (ioctl(fd, VHOST_SET_FEATURES, &ack) < 0)
		return -errno;
	for (i = 0; i < VHOST_NET_RINGS; i++)
		if ((*step = vhost_ring_setup(fd, gm, i, &r[i])))
			return -errno;
	for (i = 0; i < VHOST_NET_RINGS; i++, started++) {
		struct vhost_vring_file be = { .index = i, .fd = tap_fd };

		if (ioctl(fd, VHOST_NET_SET_BACKEND, &be) < 0)
			break;
	}
	if (started == VHOST_NET_RINGS) {
		*step = NULL;
		return 0;
	}
	rc = -errno;
	*step = "VHOST_NET_SET_BACKEND";
	vhost_net_stop(fd, NULL);
	return rc;
}

int vhost_net_stop(int fd, uint16_t base[VHOST_NET_RINGS])
{
	int rc = 0;

	for (unsigned i = 0; i < VHOST_NET_RINGS; i++) {
		struct vhost_vring_file be = { .index = i, .fd = -1 };
		struct vhost_vring_state st = { .index = i };

		if (ioctl(fd, VHOST_NET_SET_BACKEND, &be) < 0 && errno != EINVAL && !rc)
			rc = -errno;
		if (ioctl(fd, VHOST_GET_VRING_BASE, &st) < 0 && !rc)
			rc = -errno;
		if (base)
			base[i] = (uint16_t)st.num;
	}
	return rc;
}
