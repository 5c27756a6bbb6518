/* irq.c - GSI routing (legacy PIC/IOAPIC lines and MSI), irqfd, ioeventfd. */
#include "xvm/irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "xvm/log.h"

#define MSI_GSI_BASE IRQ_IOAPIC_PINS
#define ROUTES_MAX (16 + IRQ_IOAPIC_PINS + IRQ_MAX_MSI)

static void route_chip(struct kvm_irq_routing_entry *e, unsigned gsi,
		       unsigned chip, unsigned pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* Called with r->lock held. */
static int irq_commit(struct irq_routing *r)
{
	struct kvm_irq_routing *t;
	unsigned n = 0;
	int rc = 0;

	t = calloc(1, sizeof(*t) + ROUTES_MAX * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	for (unsigned gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue; /* the slave PIC cascade */
		route_chip(&t->entries[n++], gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
						       : KVM_IRQCHIP_PIC_SLAVE, gsi % 8);
	}
	for (unsigned gsi = 0; gsi < IRQ_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue; /* pin 2 belongs to GSI 0 (the PIT) */
		route_chip(&t->entries[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi ? gsi : 2);
	}
	for (unsigned i = 0; i < IRQ_MAX_MSI; i++) {
		struct kvm_irq_routing_entry *e;

		if (!r->msi[i].used || !r->msi[i].valid)
			continue;
		e = &t->entries[n++];
		memset(e, 0, sizeof(*e));
		e->gsi = MSI_GSI_BASE + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)r->msi[i].addr;
		e->u.msi.address_hi = (uint32_t)(r->msi[i].addr >> 32);
		e->u.msi.data = r->msi[i].data;
	}
	t->nr = n;
	if (ioctl(r->vm_fd, KVM_SET_GSI_ROUTING, t) < 0)
		rc = -errno;
	free(t);
	return rc;
}

int irq_routing_init(struct irq_routing *r, int vm_fd)
{
	int rc;

	memset(r, 0, sizeof(*r));
	r->vm_fd = vm_fd;
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_lock(&r->lock);
	rc = irq_commit(r);
	pthread_mutex_unlock(&r->lock);
	if (rc < 0)
		log_err("KVM_SET_GSI_ROUTING: %s", strerror(-rc));
	return rc;
}

void irq_routing_destroy(struct irq_routing *r)
{
	pthread_mutex_destroy(&r->lock);
}

int irq_msi_alloc(struct irq_routing *r)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < IRQ_MAX_MSI; i++) {
		if (!r->msi[i].used) {
			r->msi[i] = (struct irq_msi){ .used = true };
			gsi = MSI_GSI_BASE + (int)i;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return gsi;
}

void irq_msi_free(struct irq_routing *r, int gsi)
{
	unsigned i = (unsigned)(gsi - MSI_GSI_BASE);
	bool had_route;

	if (gsi < MSI_GSI_BASE || i >= IRQ_MAX_MSI)
		return;
	pthread_mutex_lock(&r->lock);
	had_route = r->msi[i].used && r->msi[i].valid;
	r->msi[i] = (struct irq_msi){ 0 };
	if (had_route)
		irq_commit(r);
	pthread_mutex_unlock(&r->lock);
}

int irq_msi_set(struct irq_routing *r, int gsi, bool valid, uint64_t addr,
		uint32_t data)
{
	unsigned i = (unsigned)(gsi - MSI_GSI_BASE);
	struct irq_msi *m;
	int rc = 0;

	if (gsi < MSI_GSI_BASE || i >= IRQ_MAX_MSI)
		return -EINVAL;
	pthread_mutex_lock(&r->lock);
	m = &r->msi[i];
	if (!m->used) {
		rc = -EINVAL;
	} else if (m->valid != valid || (valid && (m->addr != addr || m->data != data))) {
		m->valid = valid;
		m->addr = addr;
		m->data = data;
		rc = irq_commit(r);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int irq_irqfd(struct irq_routing *r, int gsi, int efd, bool assign)
{
	struct kvm_irqfd f = {
		.fd = (uint32_t)efd,
		.gsi = (uint32_t)gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	return ioctl(r->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int irq_ioeventfd(int vm_fd, uint64_t addr, unsigned len, bool pio, int efd,
		  bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr,
		.len = len,
		.fd = efd,
		.flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}
