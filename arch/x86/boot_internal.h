/* boot_internal.h - pieces shared by the bzImage and PVH loaders. */
#ifndef XVM_ARCH_X86_BOOT_INTERNAL_H
#define XVM_ARCH_X86_BOOT_INTERNAL_H

#define MAX_U64(a, b) ((uint64_t)(a) > (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))

#include <stddef.h>
#include <stdint.h>

#include "xvm/boot.h"

struct vm;

/* A loaded image in host memory (the whole file). */
struct boot_image {
	const char *path;
	const uint8_t *data;
	size_t len;
};

/* Copy the command line to BOOT_CMDLINE_GPA; max is the kernel's limit
 * including the NUL. 0 or -E2BIG (logged). */
int boot_put_cmdline(struct vm *vm, const struct boot_config *cfg, size_t max);

/* Read the initrd and place it page-aligned at the highest address below
 * limit (exclusive) and above floor; 0 with *gpa and *size 0 when there is no
 * initrd; -errno (logged) when it is missing or does not fit. */
int boot_put_initrd(struct vm *vm, const struct boot_config *cfg,
		    uint64_t floor, uint64_t limit, uint64_t *gpa, uint64_t *size);

int bzimage_load(struct vm *vm, const struct boot_config *cfg,
		 const struct boot_image *img);
int pvh_load(struct vm *vm, const struct boot_config *cfg,
	     const struct boot_image *img);

#endif
