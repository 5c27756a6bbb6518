/* boot.c - kernel format detection and what both boot protocols share:
 * command line and initrd placement. */
#include "arch/x86/boot_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/log.h"
#include "xvm/util.h"
#include "xvm/vm.h"

enum boot_format boot_detect(const uint8_t *img, size_t len)
{
	if (len >= 0x206 && !memcmp(img + 0x202, "HdrS", 4))
		return BOOT_BZIMAGE;
	if (len >= 64 && !memcmp(img, "\177ELF", 4))
		return BOOT_PVH_ELF;
	return BOOT_UNKNOWN;
}

const char *boot_format_name(enum boot_format f)
{
	switch (f) {
	case BOOT_BZIMAGE: return "bzImage";
	case BOOT_PVH_ELF: return "PVH ELF";
	default: return "unknown";
	}
}

int boot_put_cmdline(struct vm *vm, const struct boot_config *cfg, size_t max)
{
	const char *c = cfg->cmdline ? cfg->cmdline : "";
	size_t n = strlen(c) + 1;

	if (max > BOOT_CMDLINE_MAX)
		max = BOOT_CMDLINE_MAX;
	if (n > max) {
		log_err("--cmdline: %zu bytes, the kernel accepts at most %zu",
			n - 1, max - 1);
		return -E2BIG;
	}
	return gm_write(&vm->mem, BOOT_CMDLINE_GPA, c, n);
}

int boot_put_initrd(struct vm *vm, const struct boot_config *cfg,
		    uint64_t floor, uint64_t limit, uint64_t *gpa, uint64_t *size)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t at;
	int rc;

	*gpa = *size = 0;
	if (!cfg->initrd)
		return 0;
	if (limit > vm->mem.low_size)
		limit = vm->mem.low_size;
	rc = read_file(cfg->initrd, vm->mem.size, &buf, &len);
	if (rc == -EFBIG || (rc == 0 && (len > limit || limit - len < floor))) {
		log_err("%s: initrd too big for the guest memory (%zu MiB; "
			"raise --memory)", cfg->initrd, len >> 20);
		free(buf);
		return -EFBIG;
	}
	if (rc < 0) {
		log_err("%s: cannot read initrd: %s", cfg->initrd, strerror(-rc));
		return rc;
	}
	at = (limit - len) & ~0xfffULL;
	if (at < floor) {
		log_err("%s: initrd too big for the guest memory (%zu MiB; "
			"raise --memory)", cfg->initrd, len >> 20);
		free(buf);
		return -EFBIG;
	}
	rc = gm_write(&vm->mem, at, buf, len);
	free(buf);
	*gpa = at;
	*size = len;
	return rc;
}

int boot_load(struct vm *vm, const struct boot_config *cfg)
{
	struct boot_image img = { .path = cfg->kernel };
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(cfg->kernel, vm->mem.size, &buf, &len);
	if (rc == -EFBIG) {
		log_err("%s: kernel larger than the guest memory (raise --memory)",
			cfg->kernel);
		return rc;
	}
	if (rc < 0) {
		log_err("%s: cannot read kernel: %s", cfg->kernel, strerror(-rc));
		return rc;
	}
	img.data = buf;
	img.len = len;
	switch (boot_detect(buf, len)) {
	case BOOT_BZIMAGE:
		rc = bzimage_load(vm, cfg, &img);
		break;
	case BOOT_PVH_ELF:
		rc = pvh_load(vm, cfg, &img);
		break;
	default:
		log_err("%s: not a Linux bzImage or an ELF kernel (%zu bytes)",
			cfg->kernel, len);
		rc = -ENOEXEC;
	}
	free(buf);
	return rc;
}
