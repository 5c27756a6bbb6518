/* acpi_pm.c - the ACPI PM1a event/control block, PM timer and reset port on
 * the VM's port bus; drives the SCI and turns S5 and resets into VM stops.
 *
 * Threads: the port handlers run on any vCPU thread, acpi_pm_power_button()
 * on any thread; pm->lock guards regs and sci. The SCI line is set while the
 * lock is held so line changes reach KVM in the order the state changed.
 * VM stop requests are made after the lock is dropped. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hw/acpi_gpe_regs.h"
#include "hw/acpi_pm_regs.h"
#include "xvm/acpi.h"
#include "xvm/log.h"
#include "xvm/trace.h"
#include "xvm/util.h"
#include "xvm/vm.h"

#define ACPI_RESET_PORT 0xcf9

struct acpi_pm {
	struct vm *vm;
	pthread_mutex_t lock;
	struct pm1_regs regs;   /* under lock */
	struct gpe_regs gpe;    /* under lock: GPE0 and PCI hotplug */
	acpi_eject_fn eject_fn; /* under lock; called without it */
	void *eject_opaque;
	bool sci;               /* level last given to vm_irq_line, under lock */
};

/* Bring the SCI line in line with the registers; call with pm->lock held. */
static void pm_update_sci(struct acpi_pm *pm)
{
	bool level = pm1_sci_level(&pm->regs) || gpe_sci_level(&pm->gpe);
	int rc;

	if (level == pm->sci)
		return;
	rc = vm_irq_line(pm->vm, ACPI_SCI_IRQ, level);
	if (rc < 0) {
		log_warn("acpi: cannot set SCI (irq %d): %s", ACPI_SCI_IRQ,
			 strerror(-rc));
		return;
	}
	pm->sci = level;
}

/* Act on a register write's result; call without pm->lock. */
static void pm_act(struct acpi_pm *pm, enum pm1_action act, unsigned val)
{
	switch (act) {
	case PM1_ACT_POWEROFF:
		XVM_PROBE(ACPI_PM, pm->vm->cfg.domid, "poweroff", val);
		vm_request_stop(pm->vm, VM_STOP_POWEROFF, "guest powered off");
		break;
	case PM1_ACT_RESET:
		XVM_PROBE(ACPI_PM, pm->vm->cfg.domid, "reset", val);
		vm_request_stop(pm->vm, VM_STOP_REBOOT,
				"guest requested a reset");
		break;
	case PM1_ACT_SLEEP:
		XVM_PROBE(ACPI_PM, pm->vm->cfg.domid, "sleep", val);
		log_warn("acpi: guest asked for sleep type %u; not supported, "
			 "woken at once", val);
		break;
	case PM1_ACT_NONE:
		break;
	}
}

/* Byte mask of an access of len bytes at off within a register block. */
static uint32_t pm_bytemask(uint64_t off, unsigned len)
{
	uint32_t m = 0;

	for (uint64_t i = off; i < off + len && i < 4; i++)
		m |= 0xffu << (8 * i);
	return m;
}

static void pm_evt_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct acpi_pm *pm = opaque;
	uint64_t now = now_ns();

	pthread_mutex_lock(&pm->lock);
	if (is_write) {
		pm1_evt_write(&pm->regs, (uint32_t)(io_get(data, len) << (8 * off)),
			      pm_bytemask(off, len), now);
		pm_update_sci(pm);
	} else {
		io_put(data, len, pm1_evt_read(&pm->regs, now) >> (8 * off));
	}
	pthread_mutex_unlock(&pm->lock);
}

static void pm_cnt_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct acpi_pm *pm = opaque;
	enum pm1_action act = PM1_ACT_NONE;
	unsigned typ = 0;

	pthread_mutex_lock(&pm->lock);
	if (is_write) {
		act = pm1_cnt_write(&pm->regs,
				    (uint16_t)(io_get(data, len) << (8 * off)),
				    (uint16_t)pm_bytemask(off, len), &typ);
		pm_update_sci(pm);
	} else {
		io_put(data, len, (uint32_t)pm1_cnt_read(&pm->regs) >> (8 * off));
	}
	pthread_mutex_unlock(&pm->lock);
	pm_act(pm, act, typ);
}

static void pm_tmr_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct acpi_pm *pm = opaque;

	/* read-only; no lock needed: t0_ns never changes after create */
	if (!is_write)
		io_put(data, len, pm1_timer(&pm->regs, now_ns()) >> (8 * off));
}

static void pm_reset_io(void *opaque, uint64_t off, uint8_t *data,
			unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	enum pm1_action act = PM1_ACT_NONE;

	pthread_mutex_lock(&pm->lock);
	if (is_write)
		act = pm1_reset_write(&pm->regs, data[0]);
	else
		io_put(data, len, pm1_reset_read(&pm->regs));
	pthread_mutex_unlock(&pm->lock);
	pm_act(pm, act, data[0]);
}

static void pm_gpe_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		      bool is_write)
{
	struct acpi_pm *pm = opaque;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len && off + i < GPE0_LEN; i++) {
		if (is_write)
			gpe_write(&pm->gpe, (unsigned)off + i, data[i]);
		else
			data[i] = gpe_read(&pm->gpe, (unsigned)off + i);
	}
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

/* The hotplug registers take aligned 4-byte accesses (what the DSDT's
 * DWordAcc field does); other sizes read ones and write nothing. */
static void pm_pcihp_io(void *opaque, uint64_t off, uint8_t *data,
			unsigned len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	acpi_eject_fn fn;
	void *fn_opaque;
	uint32_t ej = 0;

	if (len != 4 || (off & 3))
		return;
	pthread_mutex_lock(&pm->lock);
	if (is_write)
		ej = pcihp_write(&pm->gpe, (unsigned)off, (uint32_t)io_get(data, 4));
	else
		io_put(data, 4, pcihp_read(&pm->gpe, (unsigned)off));
	fn = pm->eject_fn;
	fn_opaque = pm->eject_opaque;
	pthread_mutex_unlock(&pm->lock);
	if (ej && fn)
		fn(fn_opaque, ej);
}

int acpi_pm_create(struct vm *vm, struct acpi_pm **out)
{
	static const struct {
		uint64_t port, len;
		io_handler_fn fn;
		const char *name;
	} ports[] = {
		{ ACPI_PM1A_EVT_PORT, 4, pm_evt_io, "acpi-pm1a-evt" },
		{ ACPI_PM1A_CNT_PORT, 2, pm_cnt_io, "acpi-pm1a-cnt" },
		{ ACPI_PM_TMR_PORT, 4, pm_tmr_io, "acpi-pm-tmr" },
		{ ACPI_RESET_PORT, 1, pm_reset_io, "reset-cf9" },
		{ ACPI_GPE0_PORT, GPE0_LEN, pm_gpe_io, "acpi-gpe0" },
		{ ACPI_PCIHP_PORT, PCIHP_LEN, pm_pcihp_io, "acpi-pcihp" },
	};
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	int rc = 0;

	if (!pm)
		return -ENOMEM;
	pm->vm = vm;
	pthread_mutex_init(&pm->lock, NULL);
	pm1_init(&pm->regs, now_ns());
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		rc = iobus_register(&vm->pio, ports[i].port, ports[i].len,
				    ports[i].fn, pm, ports[i].name);
		if (rc < 0) {
			log_debug("acpi: cannot register %s at port %#llx: %s",
				  ports[i].name,
				  (unsigned long long)ports[i].port,
				  strerror(-rc));
			while (i-- > 0)
				iobus_unregister(&vm->pio, ports[i].port, NULL);
			pthread_mutex_destroy(&pm->lock);
			free(pm);
			return rc;
		}
	}
	*out = pm;
	return 0;
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm1_power_button(&pm->regs);
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	XVM_PROBE(ACPI_PM, pm->vm->cfg.domid, "pwrbtn", 0);
}

void acpi_pm_set_eject_fn(struct acpi_pm *pm, acpi_eject_fn fn, void *opaque)
{
	pthread_mutex_lock(&pm->lock);
	pm->eject_fn = fn;
	pm->eject_opaque = opaque;
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pcihp_plug(struct acpi_pm *pm, unsigned slot)
{
	pthread_mutex_lock(&pm->lock);
	pcihp_plug(&pm->gpe, slot);
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pcihp_unplug_request(struct acpi_pm *pm, unsigned slot)
{
	pthread_mutex_lock(&pm->lock);
	pcihp_unplug_request(&pm->gpe, slot);
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pcihp_gone(struct acpi_pm *pm, unsigned slot)
{
	pthread_mutex_lock(&pm->lock);
	pcihp_gone(&pm->gpe, slot);
	pm_update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pcihp_set_removable(struct acpi_pm *pm, uint32_t slots)
{
	pthread_mutex_lock(&pm->lock);
	pm->gpe.rmv = slots & ~1u;
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
