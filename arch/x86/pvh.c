/* pvh.c - the Xen PVH boot ABI: ELF loading, XEN_ELFNOTE_PHYS32_ENTRY,
 * hvm_start_info with memory map, command line, initrd module and RSDP. */
#include "arch/x86/boot_internal.h"

#include <elf.h>
#include <errno.h>
#include <string.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/elfnote.h>

#include "arch/x86/regs.h"
#include "xvm/log.h"
#include "xvm/vm.h"

#define PVH_MEMMAP_MAX 8

/* Find the PHYS32 entry in one PT_NOTE segment; 0 when absent. */
static uint64_t pvh_note_entry(const struct boot_image *img, const Elf64_Phdr *ph)
{
	const uint8_t *p = img->data + ph->p_offset;
	uint64_t left = ph->p_filesz;

	while (left >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr n;
		uint64_t name_len, desc_len, total;

		memcpy(&n, p, sizeof(n));
		name_len = (n.n_namesz + 3ULL) & ~3ULL;
		desc_len = (n.n_descsz + 3ULL) & ~3ULL;
		total = sizeof(n) + name_len + desc_len;
		if (total > left)
			break;
		if (n.n_type == XEN_ELFNOTE_PHYS32_ENTRY && n.n_namesz == 4 &&
		    !memcmp(p + sizeof(n), "Xen", 4) &&
		    (n.n_descsz == 4 || n.n_descsz == 8)) {
			uint32_t e;
			memcpy(&e, p + sizeof(n) + name_len, 4);
			return e;
		}
		p += total;
		left -= total;
	}
	return 0;
}

static int pvh_check_ehdr(const struct boot_image *img, const Elf64_Ehdr *eh)
{
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64) {
		log_err("%s: not a 64-bit x86 ELF", img->path);
		return -ENOEXEC;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phoff > img->len ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > img->len - eh->e_phoff) {
		log_err("%s: truncated or damaged ELF program headers", img->path);
		return -ENOEXEC;
	}
	return 0;
}

/* Validate and copy PT_LOAD segments; find the entry note. */
static int pvh_load_segments(struct vm *vm, const struct boot_image *img,
			     uint64_t *entry, uint64_t *top)
{
	Elf64_Ehdr eh;
	int rc;

	memcpy(&eh, img->data, sizeof(eh));
	if ((rc = pvh_check_ehdr(img, &eh)) < 0)
		return rc;
	*entry = 0;
	*top = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		memcpy(&ph, img->data + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > img->len || ph.p_filesz > img->len - ph.p_offset) {
			log_err("%s: truncated ELF (segment %u past the end)", img->path, i);
			return -ENOEXEC;
		}
		if (ph.p_type == PT_NOTE) {
			if (!*entry)
				*entry = pvh_note_entry(img, &ph);
			continue;
		}
		if (ph.p_filesz > ph.p_memsz || ph.p_paddr < BOOT_KERNEL_GPA) {
			log_err("%s: ELF segment %u at 0x%llx is invalid or below 1 MiB",
				img->path, i, (unsigned long long)ph.p_paddr);
			return -ENOEXEC;
		}
		dst = gm_ptr(&vm->mem, ph.p_paddr, ph.p_memsz);
		if (!dst) {
			log_err("%s: ELF segment at 0x%llx+%llu MiB does not fit in "
				"the guest memory (raise --memory)", img->path,
				(unsigned long long)ph.p_paddr,
				(unsigned long long)(ph.p_memsz >> 20));
			return -EFBIG;
		}
		memcpy(dst, img->data + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		*top = MAX_U64(*top, ph.p_paddr + ph.p_memsz);
	}
	if (!*entry || *entry >= GUESTMEM_4G) {
		log_err("%s: ELF kernel without a PVH entry note "
			"(XEN_ELFNOTE_PHYS32_ENTRY); xvm boots PVH ELFs and bzImages",
			img->path);
		return -ENOEXEC;
	}
	return 0;
}

int pvh_load(struct vm *vm, const struct boot_config *cfg,
	     const struct boot_image *img)
{
	struct hvm_start_info si = { .magic = XEN_HVM_START_MAGIC_VALUE, .version = 1 };
	struct hvm_modlist_entry mod = { 0 };
	struct hvm_memmap_table_entry mm[PVH_MEMMAP_MAX];
	struct e820_entry e[PVH_MEMMAP_MAX];
	uint64_t entry, top, at = BOOT_START_INFO_GPA;
	unsigned n;
	int rc;

	if ((rc = pvh_load_segments(vm, img, &entry, &top)) < 0)
		return rc;
	if ((rc = boot_put_cmdline(vm, cfg, BOOT_CMDLINE_MAX)) < 0)
		return rc;
	rc = boot_put_initrd(vm, cfg, top, vm->mem.low_size, &mod.paddr, &mod.size);
	if (rc < 0)
		return rc;
	n = e820_build(vm, e, PVH_MEMMAP_MAX);
	for (unsigned i = 0; i < n; i++)
		mm[i] = (struct hvm_memmap_table_entry){ e[i].addr, e[i].size,
							 e[i].type, 0 };
	si.cmdline_paddr = BOOT_CMDLINE_GPA;
	si.rsdp_paddr = cfg->rsdp_gpa;
	si.modlist_paddr = at + sizeof(si);
	si.nr_modules = mod.size ? 1 : 0;
	si.memmap_paddr = si.modlist_paddr + sizeof(mod);
	si.memmap_entries = n;
	if (gm_write(&vm->mem, at, &si, sizeof(si)) < 0 ||
	    gm_write(&vm->mem, si.modlist_paddr, &mod, sizeof(mod)) < 0 ||
	    gm_write(&vm->mem, si.memmap_paddr, mm, n * sizeof(mm[0])) < 0)
		return -EFAULT;
	return regs_setup_protected32(vm, vm->vcpu[0], (uint32_t)entry, (uint32_t)at);
}
