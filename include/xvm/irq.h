/* irq.h - the VM's interrupt routing: the PC's legacy lines and MSI routes
 * for devices, delivered through irqfd (an eventfd the device writes; KVM
 * injects without the vCPU threads or an ioctl on the data path).
 *
 * Routing table installed with KVM_SET_GSI_ROUTING: GSI 0-15 to the PIC
 * pins (except the cascade, 2) and GSI n to IOAPIC pin n, except GSI 0 to
 * pin 2 (the PIT), as the MADT's IRQ0 -> GSI2 override promises; GSI >= 24
 * are MSI routes allocated by irq_msi_alloc(). */
#ifndef XVM_IRQ_H
#define XVM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_IOAPIC_PINS 24
#define IRQ_MAX_MSI 256

struct irq_msi {
	bool used, valid;
	uint64_t addr;
	uint32_t data;
};

struct irq_routing {
	int vm_fd;
	pthread_mutex_t lock;
	struct irq_msi msi[IRQ_MAX_MSI]; /* GSI 24 + i */
};

/* Install the legacy routing. 0 or -errno (logged). */
int irq_routing_init(struct irq_routing *r, int vm_fd);
void irq_routing_destroy(struct irq_routing *r);
/* Reserve an MSI GSI (no route yet). Returns the GSI or -ENOSPC. */
int irq_msi_alloc(struct irq_routing *r);
/* Give an MSI GSI back (its route goes too). Bad or free GSIs are ignored. */
void irq_msi_free(struct irq_routing *r, int gsi);
/* Point an MSI GSI at (addr, data), or remove its route (valid false).
 * Rewrites the KVM routing table. 0 or -errno. */
int irq_msi_set(struct irq_routing *r, int gsi, bool valid, uint64_t addr,
		uint32_t data);
/* Bind (or unbind with assign false) an eventfd to a GSI. 0 or -errno. */
int irq_irqfd(struct irq_routing *r, int gsi, int efd, bool assign);

/* Bind an eventfd to guest writes of `len` bytes (0: any) at addr in MMIO
 * (or port space when pio): KVM_IOEVENTFD. 0 or -errno. */
int irq_ioeventfd(int vm_fd, uint64_t addr, unsigned len, bool pio, int efd,
		  bool assign);

#endif
