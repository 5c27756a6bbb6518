/* pci.c - PCI bus 0: host bridge, config mechanism #1 and ECAM, BAR
 * placement and the generic config-space write rules. */
#include "xvm/pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xvm/log.h"
#include "xvm/util.h"
#include "xvm/vm.h"

#define CONF1_ADDR_PORT 0xcf8
#define CONF1_PORTS 8          /* 0xcf8-0xcff */
#define CONF1_ENABLE 0x80000000u
#define RESET_PORT 0xcf9

struct pci_bus {
	struct vm *vm;
	/* Locking: reg_lock serialises pci_register/pci_unregister (never
	 * taken on a vCPU thread); lock guards cf8, slot[] and every
	 * device's config space (vCPU threads take it inside the bus's
	 * dispatch). Order: reg_lock, then the MMIO bus (iobus_register), and
	 * lock only around publishing slot[]: never across iobus calls, since
	 * a vCPU holding the MMIO bus shared (ECAM) waits for lock. */
	pthread_mutex_t reg_lock;
	pthread_mutex_t lock;
	uint32_t cf8;
	struct pci_dev *slot[PCI_MAX_SLOTS];
	struct pci_dev host;
	struct io_range reset;      /* the 0xCF9 handler we took over, if any */
};

void pci_dev_init(struct pci_dev *d, const char *name, uint16_t vendor,
		  uint16_t device, uint32_t class_code, uint8_t revision,
		  uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d->cfg, 0, sizeof(d->cfg));
	memset(d->wmask, 0, sizeof(d->wmask));
	memset(d->bar, 0, sizeof(d->bar));
	d->name = name;
	pci_set16(d, PCI_VENDOR_ID, vendor);
	pci_set16(d, PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION] = revision;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	pci_set16(d, PCI_CLASS_PROG + 1, (uint16_t)(class_code >> 8));
	pci_set16(d, PCI_SUBSYS_VENDOR, subsys_vendor);
	pci_set16(d, PCI_SUBSYS_ID, subsys_id);
	d->cfg[PCI_INT_PIN] = 1; /* INTA */
	d->cfg[PCI_INT_LINE] = 0xff;
	pci_set16(d, PCI_COMMAND, 0);
	d->wmask[PCI_COMMAND] = PCI_CMD_IO | PCI_CMD_MEM | PCI_CMD_MASTER;
	d->wmask[PCI_COMMAND + 1] = PCI_CMD_INTX_DISABLE >> 8;
	d->wmask[PCI_INT_LINE] = 0xff;
	d->next_cap = 0x40;
}

unsigned pci_add_cap(struct pci_dev *d, uint8_t id, unsigned len)
{
	unsigned off = d->next_cap, p;

	if (len < 2 || off + len > 0x100)
		return 0;
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	/* link at the end of the list */
	if (!(pci_get16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST)) {
		pci_set16(d, PCI_STATUS, pci_get16(d, PCI_STATUS) | PCI_STATUS_CAP_LIST);
		d->cfg[PCI_CAP_PTR] = (uint8_t)off;
	} else {
		for (p = d->cfg[PCI_CAP_PTR]; d->cfg[p + 1]; p = d->cfg[p + 1])
			;
		d->cfg[p + 1] = (uint8_t)off;
	}
	d->next_cap = (uint8_t)ALIGN_UP(off + len, 4);
	return off;
}

/* Keep BARs where we put them: sizing (all address bits set) is allowed,
 * any other value is replaced by the assigned address. */
static void pci_fix_bars(struct pci_dev *d, unsigned off, unsigned len)
{
	for (unsigned i = 0; i < 6; i++) {
		unsigned r = PCI_BAR0 + 4 * i;
		struct pci_bar *b = &d->bar[i];
		uint32_t v, mask;

		if (!b->size || off >= r + (b->is64 ? 8 : 4) || off + len <= r)
			continue;
		mask = (uint32_t)~(b->size - 1) & 0xfffffff0u;
		v = pci_get32(d, r);
		if ((v & mask) != mask)
			pci_set32(d, r, (uint32_t)b->addr | (v & 0xf));
		if (b->is64 && pci_get32(d, r + 4) != 0xffffffffu)
			pci_set32(d, r + 4, (uint32_t)(b->addr >> 32));
	}
}

static struct pci_dev *pci_find(struct pci_bus *bus, unsigned slot, unsigned fn)
{
	if (slot >= PCI_MAX_SLOTS || fn != 0)
		return NULL;
	return bus->slot[slot];
}

uint32_t pci_cfg_read(struct pci_bus *bus, unsigned slot, unsigned fn,
		      unsigned off, unsigned len)
{
	struct pci_dev *d;
	uint32_t v = 0;

	if (len > 4 || off + len > PCI_CFG_SIZE)
		return 0xffffffffu;
	pthread_mutex_lock(&bus->lock);
	d = pci_find(bus, slot, fn);
	if (!d) {
		v = 0xffffffffu;
	} else {
		for (unsigned i = 0; i < len; i++)
			v |= (uint32_t)d->cfg[off + i] << (8 * i);
	}
	pthread_mutex_unlock(&bus->lock);
	return len == 4 ? v : v & ((1u << (8 * len)) - 1);
}

void pci_cfg_write(struct pci_bus *bus, unsigned slot, unsigned fn,
		   unsigned off, unsigned len, uint32_t val)
{
	struct pci_dev *d;

	if (len > 4 || off + len > PCI_CFG_SIZE)
		return;
	pthread_mutex_lock(&bus->lock);
	d = pci_find(bus, slot, fn);
	if (d) {
		for (unsigned i = 0; i < len; i++) {
			uint8_t m = d->wmask[off + i], b = (uint8_t)(val >> (8 * i));
			d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
		}
		pci_fix_bars(d, off, len);
		if (d->config_write)
			d->config_write(d, off, len);
	}
	pthread_mutex_unlock(&bus->lock);
}

static void pci_conf1_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
			 bool is_write)
{
	struct pci_bus *bus = opaque;
	uint32_t a;

	if (off == 1 && len == 1 && bus->reset.fn) {
		/* 0xCF9 byte access: the reset control register */
		bus->reset.fn(bus->reset.opaque, 0, data, len, is_write);
		return;
	}
	if (off < 4) {
		if (off == 0 && len == 4) {
			pthread_mutex_lock(&bus->lock);
			if (is_write)
				bus->cf8 = (uint32_t)io_get(data, 4);
			else
				io_put(data, 4, bus->cf8);
			pthread_mutex_unlock(&bus->lock);
		}
		return; /* other sizes at 0xcf8 are not config cycles */
	}
	pthread_mutex_lock(&bus->lock);
	a = bus->cf8;
	pthread_mutex_unlock(&bus->lock);
	if (!(a & CONF1_ENABLE) || ((a >> 16) & 0xff) != 0)
		return; /* reads stay 0xff: no device */
	{
		unsigned slot = (a >> 11) & 0x1f, fn = (a >> 8) & 7;
		unsigned reg = (a & 0xfc) | (unsigned)(off - 4);
		if (is_write)
			pci_cfg_write(bus, slot, fn, reg, len, (uint32_t)io_get(data, len));
		else
			io_put(data, len, pci_cfg_read(bus, slot, fn, reg, len));
	}
}

static void pci_ecam_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
			bool is_write)
{
	struct pci_bus *bus = opaque;
	unsigned slot = (unsigned)(off >> 15) & 0x1f, fn = (unsigned)(off >> 12) & 7;
	unsigned reg = (unsigned)off & 0xfff;

	if (len > 4 || (reg & (len - 1)))
		return; /* unaligned or 8-byte config accesses are not supported */
	if (is_write)
		pci_cfg_write(bus, slot, fn, reg, len, (uint32_t)io_get(data, len));
	else
		io_put(data, len, pci_cfg_read(bus, slot, fn, reg, len));
}

/* The BAR of a registered device (or of d itself, bars below `upto`)
 * overlapping [at, at+size), or NULL. Under reg_lock. */
static const struct pci_bar *pci_bar_clash(struct pci_bus *bus, struct pci_dev *d,
					   unsigned upto, uint64_t at, uint64_t size)
{
	for (unsigned s = 0; s <= PCI_MAX_SLOTS; s++) {
		struct pci_dev *o = s < PCI_MAX_SLOTS ? bus->slot[s] : d;
		unsigned n = s < PCI_MAX_SLOTS ? 6 : upto;

		for (unsigned i = 0; o && i < n; i++) {
			const struct pci_bar *b = &o->bar[i];
			if (b->size && at < b->addr + b->size && b->addr < at + size)
				return b;
		}
	}
	return NULL;
}

/* First fit in the window: space freed by a hot-unplug is used again. */
static int pci_alloc_bar(struct pci_bus *bus, struct pci_dev *d, unsigned i,
			 uint64_t size, uint64_t *out)
{
	uint64_t at = PCI_MMIO_BASE;
	const struct pci_bar *c;

	while (at + size <= PCI_MMIO_END) {
		c = pci_bar_clash(bus, d, i, at, size);
		if (!c) {
			*out = at;
			return 0;
		}
		at = ALIGN_UP(c->addr + c->size, size);
	}
	return -ENOSPC;
}

static void pci_unmap_bars(struct pci_bus *bus, struct pci_dev *d, unsigned upto)
{
	for (unsigned i = 0; i < upto && i < 6; i++)
		if (d->bar[i].size && d->bar[i].addr)
			iobus_unregister(&bus->vm->mmio, d->bar[i].addr, NULL);
}

static int pci_place_bars(struct pci_bus *bus, struct pci_dev *d)
{
	for (unsigned i = 0; i < 6; i++) {
		struct pci_bar *b = &d->bar[i];
		unsigned r = PCI_BAR0 + 4 * i;
		uint64_t at;
		int rc;

		b->addr = 0;
		if (!b->size)
			continue;
		if ((b->size & (b->size - 1)) || b->size < 4096 || (b->is64 && i == 5))
			return -EINVAL;
		if ((rc = pci_alloc_bar(bus, d, i, b->size, &at)) < 0)
			return rc;
		b->addr = at;
		pci_set32(d, r, (uint32_t)at | (b->is64 ? 0x4 : 0));
		for (unsigned k = 0; k < 4; k++)
			d->wmask[r + k] = (uint8_t)((~(b->size - 1) & 0xfffffff0u) >> (8 * k));
		if (b->is64) {
			pci_set32(d, r + 4, (uint32_t)(at >> 32));
			memset(&d->wmask[r + 4], 0xff, 4);
			i++;
		}
		rc = iobus_register(&bus->vm->mmio, at, b->size, b->fn, b->opaque, d->name);
		if (rc < 0) {
			b->addr = 0;
			pci_unmap_bars(bus, d, i);
			return rc;
		}
		if (b->is64)
			i++;
	}
	return 0;
}

int pci_register(struct pci_bus *bus, struct pci_dev *d)
{
	unsigned slot;
	int rc;

	pthread_mutex_lock(&bus->reg_lock);
	for (slot = 1; slot < PCI_MAX_SLOTS && bus->slot[slot]; slot++)
		;
	rc = slot == PCI_MAX_SLOTS ? -ENOSPC : pci_place_bars(bus, d);
	if (rc == 0) {
		d->slot = slot;
		pthread_mutex_lock(&bus->lock);
		bus->slot[slot] = d;
		pthread_mutex_unlock(&bus->lock);
		log_debug("pci: %s at 00:%02x.0", d->name, slot);
	}
	pthread_mutex_unlock(&bus->reg_lock);
	return rc;
}

void pci_unregister(struct pci_bus *bus, struct pci_dev *d)
{
	pthread_mutex_lock(&bus->reg_lock);
	if (d->slot && d->slot < PCI_MAX_SLOTS && bus->slot[d->slot] == d) {
		/* config space first: a guest scan sees an empty slot, then the
		 * BARs go (no vCPU is in their handlers when this returns) */
		pthread_mutex_lock(&bus->lock);
		bus->slot[d->slot] = NULL;
		pthread_mutex_unlock(&bus->lock);
		pci_unmap_bars(bus, d, 6);
		log_debug("pci: %s removed from 00:%02x.0", d->name, d->slot);
		d->slot = 0;
	}
	pthread_mutex_unlock(&bus->reg_lock);
}

int pci_bus_create(struct vm *vm, struct pci_bus **out)
{
	struct pci_bus *bus = calloc(1, sizeof(*bus));
	int rc;

	if (!bus)
		return -ENOMEM;
	bus->vm = vm;
	pthread_mutex_init(&bus->reg_lock, NULL);
	pthread_mutex_init(&bus->lock, NULL);
	/* host bridge: Red Hat's generic PCIe host id, class 06 00 00 */
	pci_dev_init(&bus->host, "host-bridge", 0x1b36, 0x0008, 0x060000, 0, 0x1af4, 0x1100);
	bus->host.cfg[PCI_INT_PIN] = 0;
	bus->slot[0] = &bus->host;
	iobus_unregister(&vm->pio, RESET_PORT, &bus->reset);
	rc = iobus_register(&vm->pio, CONF1_ADDR_PORT, CONF1_PORTS, pci_conf1_io, bus,
			    "pci-conf1");
	if (rc == 0)
		rc = iobus_register(&vm->mmio, PCI_ECAM_BASE, PCI_ECAM_SIZE, pci_ecam_io,
				    bus, "pci-ecam");
	if (rc < 0) {
		pci_bus_destroy(bus);
		return rc;
	}
	*out = bus;
	return 0;
}

void pci_bus_destroy(struct pci_bus *bus)
{
	if (!bus)
		return;
	pthread_mutex_destroy(&bus->lock);
	pthread_mutex_destroy(&bus->reg_lock);
	free(bus);
}
