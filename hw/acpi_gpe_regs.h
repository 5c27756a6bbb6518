/* acpi_gpe_regs.h - the GPE0 block and the PCI hotplug register block as a
 * pure state machine (no ports, no locks): hw/acpi_pm.c wraps it, tests
 * drive it directly.
 *
 * GPE0 (ACPI 6, 4.8.4.1), ACPI_GPE0_PORT, 4 bytes, byte access: GPE0_STS
 * in bytes 0-1 (write 1 to clear), GPE0_EN in bytes 2-3. GPE bit 1
 * (ACPI_GPE_PCIHP) is the PCI hotplug event; \_GPE._E01 runs PCNT.
 *
 * PCI hotplug block at ACPI_PCIHP_PORT, four 32-bit registers, one bit per
 * slot of bus 0 (the interface QEMU's PIIX4 offers, so guests and
 * firmware that know it know this):
 *   +0x0 PCI_UP   (read) slots with a device-check pending; cleared when read
 *   +0x4 PCI_DOWN (read) slots with an eject request pending
 *   +0x8 PCI_EJ   (write) a slot mask: the OS ejected those slots; only slots
 *                 with DOWN pending are acted on (and their DOWN clears)
 *   +0xc PCI_RMV  (read) slots whose device may be ejected */
#ifndef XVM_HW_ACPI_GPE_REGS_H
#define XVM_HW_ACPI_GPE_REGS_H

#include <stdbool.h>
#include <stdint.h>

#define PCIHP_UP 0x0
#define PCIHP_DOWN 0x4
#define PCIHP_EJ 0x8
#define PCIHP_RMV 0xc
#define PCIHP_LEN 0x10
#define GPE0_LEN 4

struct gpe_regs {
	uint16_t sts, en;
	uint32_t up, down, rmv;
};

/* GPE0 block byte at off (0..3). */
uint8_t gpe_read(const struct gpe_regs *r, unsigned off);
void gpe_write(struct gpe_regs *r, unsigned off, uint8_t val);
/* Set a GPE status bit (0..15). */
void gpe_raise(struct gpe_regs *r, unsigned bit);
/* The SCI level the GPE block asks for: an enabled status bit is set. */
bool gpe_sci_level(const struct gpe_regs *r);

/* A register of the hotplug block (off 0, 4, 8, 0xc; others read 0). */
uint32_t pcihp_read(struct gpe_regs *r, unsigned off);
/* A write; returns the slots the OS ejected (0 for other registers). */
uint32_t pcihp_write(struct gpe_regs *r, unsigned off, uint32_t val);
/* A device arrived in slot (1..31): UP set, DOWN cleared, GPE raised. */
void pcihp_plug(struct gpe_regs *r, unsigned slot);
/* Ask the OS to eject slot: DOWN set, GPE raised. */
void pcihp_unplug_request(struct gpe_regs *r, unsigned slot);
/* The device in slot is gone (ejected or forced): pending bits cleared. */
void pcihp_gone(struct gpe_regs *r, unsigned slot);

#endif
