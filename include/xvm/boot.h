/* boot.h - load a guest kernel into RAM and set the boot vCPU's registers.
 *
 * Two formats, detected from the file: a Linux bzImage (64-bit boot protocol,
 * boot protocol >= 2.12: boot_params, e820, command line, initrd) and an
 * ELF with a Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY: hvm_start_info
 * with memmap, command line, modules, RSDP).
 *
 * Low-memory layout (guest-physical), fixed:
 *   0x00500  GDT              0x06000  hvm_start_info + modlist + memmap
 *   0x07000  boot_params      0x09000  page tables (PML4, PDPT, 4 PDs)
 *   0x20000  command line     0xe0000  ACPI tables (acpi.h)
 *   0x100000 bzImage protected-mode kernel; ELF segments at their p_paddr
 *   initrd at the top of low RAM, below the kernel's limit. */
#ifndef XVM_BOOT_H
#define XVM_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;

#define BOOT_GDT_GPA 0x500ULL
#define BOOT_START_INFO_GPA 0x6000ULL
#define BOOT_PARAMS_GPA 0x7000ULL
#define BOOT_PGTABLE_GPA 0x9000ULL
#define BOOT_CMDLINE_GPA 0x20000ULL
#define BOOT_CMDLINE_MAX 0x10000ULL   /* 64 KiB incl. NUL */
#define BOOT_KERNEL_GPA 0x100000ULL
#define BOOT_EBDA_GPA 0x9fc00ULL      /* RAM below this; reserved to 1 MiB */

enum boot_format { BOOT_UNKNOWN = 0, BOOT_BZIMAGE, BOOT_PVH_ELF };

struct boot_config {
	const char *kernel;    /* path */
	const char *initrd;    /* path or NULL */
	const char *cmdline;   /* NULL: "" */
	uint64_t rsdp_gpa;     /* ACPI RSDP, passed to the guest (0: none) */
};

/* Detect the format of an image in memory (only the header is read). */
enum boot_format boot_detect(const uint8_t *img, size_t len);
const char *boot_format_name(enum boot_format f);

/* Load kernel (and initrd, cmdline) into vm's RAM and set vCPU 0's
 * registers for the entry point. Returns 0 or a negative errno after logging
 * one line naming the file and the problem (missing, truncated, not a kernel,
 * too big for the memory, bad ELF, no PVH note). */
int boot_load(struct vm *vm, const struct boot_config *cfg);

/* e820 map of vm's RAM (usable below the EBDA, reserved EBDA..1 MiB,
 * usable 1 MiB..low end, usable from 4 GiB). Entries are {addr, size, type}
 * with E820 types (1 RAM, 2 reserved). Returns the entry count (<= max). */
struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};
#define E820_RAM 1
#define E820_RESERVED 2
#define E820_ACPI 3
unsigned e820_build(const struct vm *vm, struct e820_entry *out, unsigned max);

#endif
