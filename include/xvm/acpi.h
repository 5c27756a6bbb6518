/* acpi.h - ACPI tables for the guest (RSDP, XSDT, FADT, FACS, DSDT, MADT)
 * and the PM1 register block that makes S5 power-off and the power button work.
 *
 * Tables are built into guest RAM at a fixed low address (ACPI_TABLES_GPA,
 * below 1 MiB so legacy EBDA scans also find the RSDP) with correct
 * checksums. The FADT is a full (not HW-reduced) FADT with a PM1a event and
 * control block in port space and an SCI on ACPI_SCI_IRQ. */
#ifndef XVM_ACPI_H
#define XVM_ACPI_H

#include <stddef.h>
#include <stdint.h>

struct vm;

#define ACPI_TABLES_GPA 0x000e0000ULL /* 128 KiB window up to 1 MiB */
#define ACPI_TABLES_MAX 0x00020000ULL
#define ACPI_PM1A_EVT_PORT 0x600      /* 4 bytes: PM1_STS, PM1_EN */
#define ACPI_PM1A_CNT_PORT 0x604      /* 2 bytes: PM1_CNT */
#define ACPI_PM_TMR_PORT 0x608        /* 4 bytes: PM timer (3.579545 MHz) */
#define ACPI_GPE0_PORT 0xafe0         /* 4 bytes: GPE0_STS, GPE0_EN */
#define ACPI_PCIHP_PORT 0xae00        /* 16 bytes: PCI hotplug (hw/acpi_gpe_regs.h) */
#define ACPI_GPE_PCIHP 1              /* GPE0 bit of PCI hotplug: \_GPE._E01 */
#define ACPI_SCI_IRQ 9
#define ACPI_S5_SLP_TYP 5             /* \_S5 package value */
#define IOAPIC_ADDR 0xfec00000ULL
#define LAPIC_ADDR 0xfee00000ULL

struct acpi_config {
	unsigned ncpus;       /* MADT gets one Local APIC entry per vCPU */
	const char *oem_id;   /* 6 chars max, "XVM   " when NULL */
	/* PCI host bridge, all 0 for none. pci_mmio_size != 0 adds
	 * \_SB.PCI0 (PNP0A08/PNP0A03) whose _CRS holds buses
	 * 0..pci_bus_end, the I/O ports outside 0xCF8-0xCFF and the MMIO
	 * window [pci_mmio_base, +size); pci_ecam_base != 0 adds an MCFG
	 * (segment 0, buses 0..pci_bus_end; the e820 must reserve it). */
	uint64_t pci_mmio_base, pci_mmio_size;
	uint64_t pci_ecam_base;
	uint8_t pci_bus_end;
	/* PCI hotplug (needs pci_mmio_size): slot devices S01..S1F under
	 * PCI0 with _ADR, _SUN, _EJ0, and \_GPE._E01 notifying them */
	int pci_hotplug;
	/* slots (bit n = slot n) holding boot devices: their S<n> get no
	 * _EJ0, so an OS never offers to eject what cannot go (the VMM
	 * ignores such an eject; the OS would have let go of the device) */
	uint32_t pci_fixed_slots;
};

/* Write the tables into buf, which the guest sees at gpa (buf_size bytes,
 * at most ACPI_TABLES_MAX). On success *rsdp_gpa is the RSDP's address
 * (gpa itself: the RSDP comes first). Returns 0, -ENOSPC when the tables do
 * not fit, -EINVAL on a bad config: ncpus outside 1..255, oem_id longer
 * than 6, gpa not 16-byte aligned or the window not below 4 GiB, a PCI
 * MMIO window that wraps, an ECAM base not 1 MiB aligned. */
int acpi_build(void *buf, size_t buf_size, uint64_t gpa,
	       const struct acpi_config *cfg, uint64_t *rsdp_gpa);

/* The PM1a block, PM timer and reset register (port 0xCF9) on the VM's
 * port bus (hw/acpi_pm.c). S5 in PM1_CNT stops the VM with
 * VM_STOP_POWEROFF, 0x06/0x0E at 0xCF9 with VM_STOP_REBOOT. Call before
 * the vCPUs start. Returns 0, -ENOMEM, or -EEXIST when a port is taken
 * (nothing stays registered then). */
struct acpi_pm;
int acpi_pm_create(struct vm *vm, struct acpi_pm **out);
/* Raise a power-button event (PWRBTN_STS + SCI when enabled). Any thread. */
void acpi_pm_power_button(struct acpi_pm *pm);
/* PCI hotplug (the block at ACPI_PCIHP_PORT, GPE bit ACPI_GPE_PCIHP).
 * The eject callback runs on the vCPU thread that wrote PCI_EJ, without
 * the PM lock, with the mask of slots the guest ejected (only slots with
 * an eject request pending); it must not block. Any thread for the rest. */
typedef void (*acpi_eject_fn)(void *opaque, uint32_t slots);
void acpi_pm_set_eject_fn(struct acpi_pm *pm, acpi_eject_fn fn, void *opaque);
/* Device check for slot (PCI_UP + GPE + SCI when enabled). */
void acpi_pcihp_plug(struct acpi_pm *pm, unsigned slot);
/* Eject request for slot (PCI_DOWN + GPE + SCI when enabled). */
void acpi_pcihp_unplug_request(struct acpi_pm *pm, unsigned slot);
/* The device in slot is gone: its pending UP/DOWN bits are cleared. */
void acpi_pcihp_gone(struct acpi_pm *pm, unsigned slot);
/* Slots whose devices the guest may eject (PCI_RMV). */
void acpi_pcihp_set_removable(struct acpi_pm *pm, uint32_t slots);

/* Free the device once no vCPU runs; it does not touch the VM (which may
 * already be destroyed). NULL is fine. */
void acpi_pm_destroy(struct acpi_pm *pm);

#endif
