/* guestmem.h - guest physical memory: layout and checked access.
 *
 * RAM is one anonymous mapping split into at most two KVM slots around the
 * 32-bit MMIO hole [GUESTMEM_HOLE_START, 4 GiB): low RAM from 0 and, when
 * the guest has more than fits below the hole, high RAM from 4 GiB. Every
 * guest-supplied address goes through gm_ptr(), which checks the whole
 * [gpa, gpa+len) range lies in RAM; never dereference a guest address any
 * other way. */
#ifndef XVM_GUESTMEM_H
#define XVM_GUESTMEM_H

#include <stddef.h>
#include <stdint.h>

#define GUESTMEM_HOLE_START 0xc0000000ULL /* PCI/MMIO hole up to 4 GiB */
#define GUESTMEM_4G 0x100000000ULL

struct guestmem {
	uint8_t *host;      /* mapping of all RAM, low part first */
	uint64_t size;      /* bytes of RAM */
	uint64_t low_size;  /* bytes mapped at gpa 0 */
	uint64_t high_size; /* bytes mapped at gpa 4 GiB */
};

/* Map size bytes (page-aligned, > 0). Returns 0 or a negative errno. */
int gm_init(struct guestmem *gm, uint64_t size);
void gm_free(struct guestmem *gm);

/* Host pointer for [gpa, gpa+len) or NULL when any byte of it is not RAM
 * (or the range wraps). len 0 is treated as 1. */
void *gm_ptr(const struct guestmem *gm, uint64_t gpa, uint64_t len);

/* Bytes of guest RAM currently resident in host memory (mincore). */
uint64_t gm_resident(const struct guestmem *gm);

/* Copy in or out; 0 or -EFAULT when the range is not all RAM. */
int gm_read(const struct guestmem *gm, uint64_t gpa, void *dst, size_t len);
int gm_write(const struct guestmem *gm, uint64_t gpa, const void *src, size_t len);

#endif
