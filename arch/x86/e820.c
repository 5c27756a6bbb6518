/* e820.c - the guest's physical memory map, shared by both boot protocols. */
#include "xvm/boot.h"

#include "xvm/acpi.h"
#include "xvm/pci.h"
#include "xvm/vm.h"

static unsigned e820_add(struct e820_entry *out, unsigned n, unsigned max,
			 uint64_t addr, uint64_t size, uint32_t type)
{
	if (n < max && size)
		out[n++] = (struct e820_entry){ addr, size, type };
	return n;
}

unsigned e820_build(const struct vm *vm, struct e820_entry *out, unsigned max)
{
	const struct guestmem *gm = &vm->mem;
	unsigned n = 0;

	n = e820_add(out, n, max, 0, BOOT_EBDA_GPA, E820_RAM);
	n = e820_add(out, n, max, BOOT_EBDA_GPA, ACPI_TABLES_GPA - BOOT_EBDA_GPA,
		     E820_RESERVED);
	/* the ACPI tables and the legacy BIOS area up to 1 MiB */
	n = e820_add(out, n, max, ACPI_TABLES_GPA, 0x100000ULL - ACPI_TABLES_GPA,
		     E820_RESERVED);
	if (gm->low_size > 0x100000ULL)
		n = e820_add(out, n, max, 0x100000ULL, gm->low_size - 0x100000ULL,
			     E820_RAM);
	/* PCI ECAM: Linux uses MCFG only when the area is reserved here */
	n = e820_add(out, n, max, PCI_ECAM_BASE, PCI_ECAM_SIZE, E820_RESERVED);
	if (gm->high_size)
		n = e820_add(out, n, max, GUESTMEM_4G, gm->high_size, E820_RAM);
	return n;
}
