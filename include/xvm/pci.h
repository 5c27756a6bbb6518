/* pci.h - PCI bus 0 behind a host bridge: configuration mechanism #1
 * (ports 0xCF8/0xCFC) and ECAM (MMIO, described by the ACPI MCFG table),
 * firmware-style BAR placement, and a device model with one ops table.
 *
 * Config space is an array per device plus a write mask; the generic code
 * handles the header (command, BARs with sizing, interrupt line) and the
 * capability list, and calls the device's config_write hook afterwards
 * (MSI-X enable, for instance). BARs are placed once, at registration, in
 * the 32-bit window [PCI_MMIO_BASE, PCI_MMIO_END) (first fit, so space a
 * hot-unplugged device leaves is used again); a guest that writes a
 * different address keeps reading the assigned one (we never move BARs).
 *
 * Devices may be registered and unregistered while vCPUs run (PCI
 * hotplug, vmm/hotplug.c): slots and BARs are published under the bus
 * locks and the MMIO bus's own lock (iobus.h). Registration must not be
 * called from a vCPU thread or a device handler. */
#ifndef XVM_PCI_H
#define XVM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "xvm/iobus.h"

struct vm;

#define PCI_ECAM_BASE 0xe0000000ULL   /* bus 0 only: 1 MiB */
#define PCI_ECAM_SIZE 0x00100000ULL
#define PCI_MMIO_BASE 0xc0000000ULL   /* BAR window below the ECAM */
#define PCI_MMIO_END 0xe0000000ULL
#define PCI_MAX_SLOTS 32
#define PCI_CFG_SIZE 4096

/* standard header offsets */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_CLASS_PROG 0x09
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34
#define PCI_INT_LINE 0x3c
#define PCI_INT_PIN 0x3d
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CMD_IO 0x1
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_CMD_INTX_DISABLE 0x400

struct pci_dev;

struct pci_bar {
	uint64_t size;        /* power of two >= 4096; 0: unused */
	bool is64;            /* takes this BAR and the next */
	uint64_t addr;        /* assigned by pci_register */
	io_handler_fn fn;     /* MMIO accesses, offset from the BAR start */
	void *opaque;
};

struct pci_dev {
	const char *name;
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];  /* bits the guest may write */
	struct pci_bar bar[6];
	unsigned slot;                /* assigned by pci_register */
	uint8_t next_cap;             /* where pci_add_cap puts the next one */
	/* after a generic config write of len bytes at off (optional) */
	void (*config_write)(struct pci_dev *d, unsigned off, unsigned len);
	void *opaque;
};

struct pci_bus;

/* Create bus 0 with its host bridge at 00:00.0 and register the 0xCF8
 * and ECAM handlers. 0 or -errno. */
int pci_bus_create(struct vm *vm, struct pci_bus **out);
void pci_bus_destroy(struct pci_bus *bus);

/* Fill the header of a type-0 device (ids, class, INTA) and clear the rest. */
void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor,
		  uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id);
/* Append a capability of len bytes (id at +0, next at +1) and return its
 * offset in config space, or 0 when it does not fit. */
unsigned pci_add_cap(struct pci_dev *d, uint8_t id, unsigned len);

/* Put d in the next free slot, place its BARs and register them on the
 * MMIO bus. Any thread but a vCPU's. 0, -ENOSPC (no slot or window),
 * -errno (nothing stays registered then). */
int pci_register(struct pci_bus *bus, struct pci_dev *d);
/* Take d off the bus: its slot reads as empty and its BARs are off the
 * MMIO bus when this returns (no vCPU is in their handlers). Not
 * registered: nothing happens. Any thread but a vCPU's. */
void pci_unregister(struct pci_bus *bus, struct pci_dev *d);

/* Config space access as the guest does it (for tests too). */
uint32_t pci_cfg_read(struct pci_bus *bus, unsigned slot, unsigned fn,
		      unsigned off, unsigned len);
void pci_cfg_write(struct pci_bus *bus, unsigned slot, unsigned fn,
		   unsigned off, unsigned len, uint32_t val);

/* Little-endian accessors on a device's config array. */
static inline void pci_set16(struct pci_dev *d, unsigned off, uint16_t v)
{
	d->cfg[off] = (uint8_t)v;
	d->cfg[off + 1] = (uint8_t)(v >> 8);
}
static inline void pci_set32(struct pci_dev *d, unsigned off, uint32_t v)
{
	pci_set16(d, off, (uint16_t)v);
	pci_set16(d, off + 2, (uint16_t)(v >> 16));
}
static inline uint16_t pci_get16(const struct pci_dev *d, unsigned off)
{
	return (uint16_t)(d->cfg[off] | d->cfg[off + 1] << 8);
}
static inline uint32_t pci_get32(const struct pci_dev *d, unsigned off)
{
	return pci_get16(d, off) | (uint32_t)pci_get16(d, off + 2) << 16;
}

#endif
