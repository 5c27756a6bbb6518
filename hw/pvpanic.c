/* pvpanic.c - the pvpanic PCI device: a guest panic becomes a VM crash stop. */
#include "xvm/pvpanic.h"

#include <errno.h>
#include <stdlib.h>

#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/trace.h"
#include "xvm/vm.h"

#define PVPANIC_CLASS 0x088000   /* base 08 (system peripheral), sub 80 (other) */
#define PVPANIC_REVISION 1
#define PVPANIC_BAR_SIZE 4096

struct pvpanic {
	struct vm *vm;
	struct pci_dev pci;
};

/* Act on one event byte written by the guest. */
static void pvpanic_event(struct pvpanic *p, uint8_t v)
{
	unsigned ev = v & PVPANIC_EVENTS;

	if (!ev)
		return;
	XVM_PROBE(GUEST_PANIC, p->vm->cfg.domid, ev);
	if (ev & PVPANIC_PANICKED) {
		vm_request_stop(p->vm, VM_STOP_CRASH, "pvpanic: guest kernel panicked");
		return;
	}
	log_warn("pvpanic: guest kernel panicked with a crash kernel loaded; "
		 "letting it run (kdump)");
}

static void pvpanic_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		       bool is_write)
{
	struct pvpanic *p = opaque;

	if (is_write) {
		if (off == 0)
			pvpanic_event(p, data[0]);
		return;
	}
	for (unsigned i = 0; i < len; i++)
		data[i] = off + i == 0 ? PVPANIC_EVENTS : 0;
}

int pvpanic_create(struct vm *vm, struct pci_bus *bus, struct pvpanic **out)
{
	struct pvpanic *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->vm = vm;
	pci_dev_init(&p->pci, "pvpanic", PVPANIC_VENDOR, PVPANIC_DEVICE, PVPANIC_CLASS,
		     PVPANIC_REVISION, 0x1af4, 0x1100);
	p->pci.cfg[PCI_INT_PIN] = 0;          /* no interrupt */
	p->pci.opaque = p;
	p->pci.bar[0] = (struct pci_bar){ .size = PVPANIC_BAR_SIZE, .fn = pvpanic_io,
					  .opaque = p };
	rc = pci_register(bus, &p->pci);
	if (rc < 0) {
		free(p);
		return rc;
	}
	*out = p;
	return 0;
}

void pvpanic_destroy(struct pvpanic *p)
{
	free(p);
}

unsigned pvpanic_slot(const struct pvpanic *p)
{
	return p->pci.slot;
}
