/* msix.h - an MSI-X capability, table and PBA for a PCI device, with each
 * vector delivered through its own irqfd (GSI route from irq.h).
 *
 * A vector's route is live only while MSI-X is enabled, the function is
 * not masked and the vector is not masked; a notify while masked sets the
 * vector's pending bit, and unmasking delivers it. */
#ifndef XVM_MSIX_H
#define XVM_MSIX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vm;
struct pci_dev;

#define MSIX_NO_VECTOR 0xffff

struct msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct msix {
	struct vm *vm;
	struct pci_dev *pci;
	unsigned cap;            /* capability offset in config space */
	unsigned nvec;
	pthread_mutex_t lock;
	struct msix_entry *table;
	uint64_t *pba;
	int *gsi, *efd;
	bool *live;              /* route installed */
	bool *ext;               /* the irqfd is also signalled outside xvm */
	bool enabled, fmask;
};

/* Add the capability (table at table_off, PBA at pba_off, both in BAR
 * `bar`), allocate a GSI and an irqfd per vector. 0 or -errno. */
int msix_init(struct msix *m, struct vm *vm, struct pci_dev *pci, unsigned nvec,
	      unsigned bar, uint32_t table_off, uint32_t pba_off);
void msix_destroy(struct msix *m);
/* MMIO on the table / PBA (offsets relative to each). */
void msix_table_io(struct msix *m, uint64_t off, uint8_t *data, unsigned len,
		   bool is_write);
void msix_pba_io(struct msix *m, uint64_t off, uint8_t *data, unsigned len,
		 bool is_write);
/* The PCI config write hook must call this when the capability changed. */
void msix_config_write(struct msix *m, unsigned off, unsigned len);
bool msix_enabled(struct msix *m);
/* Raise vector vec (ignored when out of range). */
void msix_notify(struct msix *m, unsigned vec);
/* Share vector vec's irqfd with a signaller outside xvm (vhost), or stop.
 * A masked vector's route is down, so what such a signaller sends then is
 * lost; a shared vector therefore gets one (spurious, harmless) interrupt
 * each time it goes live again. Returns the eventfd when on and MSI-X is
 * enabled, else -1 (the vector stays marked when on). */
int msix_share(struct msix *m, unsigned vec, bool on);

#endif
