/* guestmem.c - guest RAM mapping and the only checked gpa -> host pointer path. */
#include "xvm/guestmem.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/mman.h>

int gm_init(struct guestmem *gm, uint64_t size)
{
	void *p;

	memset(gm, 0, sizeof(*gm));
	if (!size || (size & 0xfff))
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* guest RAM is not useful in a core dump of the VMM */
	madvise(p, size, MADV_DONTDUMP);
	gm->host = p;
	gm->size = size;
	gm->low_size = size < GUESTMEM_HOLE_START ? size : GUESTMEM_HOLE_START;
	gm->high_size = size - gm->low_size;
	return 0;
}

void gm_free(struct guestmem *gm)
{
	if (gm->host)
		munmap(gm->host, gm->size);
	memset(gm, 0, sizeof(*gm));
}

void *gm_ptr(const struct guestmem *gm, uint64_t gpa, uint64_t len)
{
	if (!len)
		len = 1;
	if (gpa + len < gpa)
		return NULL;
	if (gpa + len <= gm->low_size)
		return gm->host + gpa;
	if (gpa >= GUESTMEM_4G && gpa - GUESTMEM_4G + len <= gm->high_size)
		return gm->host + gm->low_size + (gpa - GUESTMEM_4G);
	return NULL;
}

int gm_read(const struct guestmem *gm, uint64_t gpa, void *dst, size_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guestmem *gm, uint64_t gpa, const void *src, size_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gm_resident(const struct guestmem *gm)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t chunk = 1u << 16, pages = gm->size / (uint64_t)page;
	unsigned char *vec = malloc(chunk);
	uint64_t n = 0;

	if (!vec)
		return 0;
	for (size_t i = 0; i < pages; i += chunk) {
		size_t k = pages - i < chunk ? pages - i : chunk;
		if (mincore(gm->host + i * (uint64_t)page, k * (size_t)page, vec) < 0)
			break;
		for (size_t j = 0; j < k; j++)
			n += vec[j] & 1;
	}
	free(vec);
	return n * (uint64_t)page;
}
