/* bzimage.c - the Linux x86 64-bit boot protocol: boot_params, e820,
 * command line, initrd, entry at startup_64 (load address + 0x200). */
#include "arch/x86/boot_internal.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/regs.h"
#include "xvm/log.h"
#include "xvm/vm.h"

/* boot_params / setup_header offsets (Documentation/arch/x86/boot.rst) */
#define BP_ACPI_RSDP 0x070
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR 0x1f1
#define BP_SETUP_SECTS 0x1f1
#define BP_BOOT_FLAG 0x1fe
#define BP_JUMP_END 0x201
#define BP_VERSION 0x206
#define BP_LOADER_TYPE 0x210
#define BP_LOADFLAGS 0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_INITRD_ADDR_MAX 0x22c
#define BP_XLOADFLAGS 0x236
#define BP_CMDLINE_SIZE 0x238
#define BP_PREF_ADDRESS 0x258
#define BP_INIT_SIZE 0x260
#define BP_E820_TABLE 0x2d0
#define BP_E820_MAX 128
#define BP_SIZE 0x1000

#define LOADFLAG_LOADED_HIGH 0x01
#define XLF_KERNEL_64 0x01

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static int bz_check(const struct boot_image *img, size_t *setup_len)
{
	const uint8_t *d = img->data;
	unsigned sects;

	if (img->len < 0x270 || le16(d + BP_BOOT_FLAG) != 0xaa55) {
		log_err("%s: truncated or damaged bzImage header", img->path);
		return -ENOEXEC;
	}
	if (le16(d + BP_VERSION) < 0x20c || !(le16(d + BP_XLOADFLAGS) & XLF_KERNEL_64)) {
		log_err("%s: boot protocol %x.%02x without a 64-bit entry point "
			"(need 2.12+)", img->path, d[BP_VERSION + 1], d[BP_VERSION]);
		return -ENOEXEC;
	}
	if (!(d[BP_LOADFLAGS] & LOADFLAG_LOADED_HIGH)) {
		log_err("%s: not a bzImage (zImage loads low)", img->path);
		return -ENOEXEC;
	}
	sects = d[BP_SETUP_SECTS] ? d[BP_SETUP_SECTS] : 4;
	*setup_len = (size_t)(sects + 1) * 512;
	if (*setup_len >= img->len) {
		log_err("%s: truncated bzImage (no protected-mode kernel)", img->path);
		return -ENOEXEC;
	}
	return 0;
}

static void bz_fill_e820(struct vm *vm, uint8_t *bp)
{
	struct e820_entry e[8];
	unsigned n = e820_build(vm, e, 8);

	for (unsigned i = 0; i < n && i < BP_E820_MAX; i++) {
		uint8_t *p = bp + BP_E820_TABLE + i * 20;
		put64(p, e[i].addr);
		put64(p + 8, e[i].size);
		put32(p + 16, e[i].type);
	}
	bp[BP_E820_ENTRIES] = (uint8_t)n;
}

int bzimage_load(struct vm *vm, const struct boot_config *cfg,
		 const struct boot_image *img)
{
	const uint8_t *d = img->data;
	uint64_t kernel_len, need, pref, initrd_gpa, initrd_size, max;
	size_t setup_len, hdr_len;
	uint8_t *bp;
	int rc;

	if ((rc = bz_check(img, &setup_len)) < 0)
		return rc;
	kernel_len = img->len - setup_len;
	pref = le16(d + BP_VERSION) >= 0x20a ? ((uint64_t)le32(d + BP_PREF_ADDRESS + 4) << 32 |
						 le32(d + BP_PREF_ADDRESS)) : 0;
	need = MAX_U64(BOOT_KERNEL_GPA, pref) +
	       MAX_U64(kernel_len, (uint64_t)le32(d + BP_INIT_SIZE));
	if (need > vm->mem.low_size) {
		log_err("%s: kernel needs %llu MiB of low memory to unpack; "
			"raise --memory", img->path,
			(unsigned long long)((need + (1 << 20) - 1) >> 20));
		return -EFBIG;
	}
	bp = gm_ptr(&vm->mem, BOOT_PARAMS_GPA, BP_SIZE);
	if (!bp || gm_write(&vm->mem, BOOT_KERNEL_GPA, d + setup_len, kernel_len) < 0)
		return -EFAULT;
	memset(bp, 0, BP_SIZE);
	hdr_len = 0x202 + d[BP_JUMP_END] - BP_HDR;
	if (BP_HDR + hdr_len > BP_E820_TABLE)
		hdr_len = BP_E820_TABLE - BP_HDR;
	memcpy(bp + BP_HDR, d + BP_HDR, hdr_len);
	bp[BP_LOADER_TYPE] = 0xff; /* undefined boot loader */
	rc = boot_put_cmdline(vm, cfg, le32(d + BP_CMDLINE_SIZE) + 1);
	if (rc < 0)
		return rc;
	put32(bp + BP_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_GPA);
	max = (uint64_t)le32(d + BP_INITRD_ADDR_MAX) + 1;
	rc = boot_put_initrd(vm, cfg, need, max, &initrd_gpa, &initrd_size);
	if (rc < 0)
		return rc;
	put32(bp + BP_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	put32(bp + BP_RAMDISK_SIZE, (uint32_t)initrd_size);
	if (cfg->rsdp_gpa)
		put64(bp + BP_ACPI_RSDP, cfg->rsdp_gpa);
	bz_fill_e820(vm, bp);
	return regs_setup_long_mode(vm, vm->vcpu[0], BOOT_KERNEL_GPA + 0x200,
				    BOOT_PARAMS_GPA);
}
