/* test_acpi_hotplug.c - the GPE0 block and the PCI hotplug registers:
 * first the pure state machine (hw/acpi_gpe_regs.c), then the ports of
 * hw/acpi_pm.c on a real KVM VM (SCI level in the IOAPIC, the eject
 * callback). The KVM half skips with a message without /dev/kvm. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "hw/acpi_gpe_regs.h"
#include "tests/unit/check.h"
#include "xvm/acpi.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/vm.h"

#define PCIHP_BIT (1u << ACPI_GPE_PCIHP)

static void test_regs(void)
{
	struct gpe_regs r = { 0 };

	/* enable bits stored per byte, status write-1-to-clear */
	gpe_write(&r, 2, PCIHP_BIT);
	CHECK(gpe_read(&r, 2) == PCIHP_BIT && gpe_read(&r, 3) == 0);
	CHECK(!gpe_sci_level(&r));
	pcihp_plug(&r, 5);
	CHECK(gpe_read(&r, 0) == PCIHP_BIT && gpe_sci_level(&r));
	/* UP is reported once, then clears; DOWN stays empty */
	CHECK(pcihp_read(&r, PCIHP_UP) == 1u << 5);
	CHECK(pcihp_read(&r, PCIHP_UP) == 0);
	CHECK(pcihp_read(&r, PCIHP_DOWN) == 0);
	gpe_write(&r, 0, 0xff);
	CHECK(gpe_read(&r, 0) == 0 && !gpe_sci_level(&r));
	/* writing status bits that are not set changes nothing */
	gpe_write(&r, 1, 0xff);
	CHECK(gpe_read(&r, 2) == PCIHP_BIT);

	/* eject request: DOWN until the OS ejects; a hostile all-ones eject
	 * only acts on requested slots */
	pcihp_unplug_request(&r, 7);
	CHECK(pcihp_read(&r, PCIHP_DOWN) == 1u << 7 && gpe_sci_level(&r));
	CHECK(pcihp_write(&r, PCIHP_EJ, 1u << 9) == 0);
	CHECK(pcihp_read(&r, PCIHP_DOWN) == 1u << 7);
	CHECK(pcihp_write(&r, PCIHP_EJ, 0xffffffffu) == 1u << 7);
	CHECK(pcihp_read(&r, PCIHP_DOWN) == 0);
	CHECK(pcihp_write(&r, PCIHP_EJ, 0xffffffffu) == 0);
	/* writes to the read-only registers do nothing */
	CHECK(pcihp_write(&r, PCIHP_DOWN, 0xffffffffu) == 0);
	CHECK(pcihp_read(&r, PCIHP_DOWN) == 0);
	/* slot 0 (host bridge) and slots >= 32 are ignored */
	pcihp_plug(&r, 0);
	pcihp_plug(&r, 32);
	pcihp_unplug_request(&r, 0);
	CHECK(pcihp_read(&r, PCIHP_UP) == 0 && pcihp_read(&r, PCIHP_DOWN) == 0);
	/* a plug cancels a pending eject request of the slot; gone clears */
	pcihp_unplug_request(&r, 3);
	pcihp_plug(&r, 3);
	CHECK(pcihp_read(&r, PCIHP_DOWN) == 0);
	pcihp_unplug_request(&r, 3);
	pcihp_gone(&r, 3);
	CHECK(pcihp_read(&r, PCIHP_DOWN) == 0 && pcihp_read(&r, PCIHP_UP) == 0);
	CHECK(pcihp_read(&r, 0x10) == 0 && gpe_read(&r, 4) == 0);
}

static uint64_t pio(struct vm *vm, uint64_t port, unsigned len, int wr,
		    uint64_t v)
{
	uint8_t d[8];

	io_put(d, len, v);
	CHECK(iobus_dispatch(&vm->pio, port, d, len, wr) == 0);
	return io_get(d, len);
}

static int ioapic_pin(struct vm *vm, unsigned gsi)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };

	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return -errno;
	return (chip.chip.ioapic.irr >> gsi) & 1;
}

static void on_eject(void *opaque, uint32_t slots)
{
	*(uint32_t *)opaque |= slots;
}

static void test_ports(struct vm *vm, struct acpi_pm *pm)
{
	uint32_t ejected = 0;

	acpi_pm_set_eject_fn(pm, on_eject, &ejected);
	acpi_pcihp_set_removable(pm, 0xffffffffu);
	CHECK(pio(vm, ACPI_PCIHP_PORT + PCIHP_RMV, 4, 0, 0) == 0xfffffffeu);
	/* plug with the GPE disabled: status only */
	acpi_pcihp_plug(pm, 4);
	CHECK(pio(vm, ACPI_GPE0_PORT, 1, 0, 0) == PCIHP_BIT);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 0);
	/* enable: the SCI rises; read UP, ack the status: it drops */
	pio(vm, ACPI_GPE0_PORT + 2, 1, 1, PCIHP_BIT);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 1);
	CHECK(pio(vm, ACPI_PCIHP_PORT + PCIHP_UP, 4, 0, 0) == 1u << 4);
	pio(vm, ACPI_GPE0_PORT, 1, 1, PCIHP_BIT);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 0);
	/* unplug request, eject write: the callback sees the slot once */
	acpi_pcihp_unplug_request(pm, 4);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 1);
	CHECK(pio(vm, ACPI_PCIHP_PORT + PCIHP_DOWN, 4, 0, 0) == 1u << 4);
	pio(vm, ACPI_PCIHP_PORT + PCIHP_EJ, 4, 1, 1u << 4 | 1u << 6);
	CHECK(ejected == 1u << 4);
	ejected = 0;
	pio(vm, ACPI_PCIHP_PORT + PCIHP_EJ, 4, 1, 1u << 4);
	CHECK(ejected == 0);
	/* 1- and 2-byte accesses to the hotplug block do nothing */
	acpi_pcihp_unplug_request(pm, 8);
	pio(vm, ACPI_PCIHP_PORT + PCIHP_EJ + 1, 1, 1, 1);
	pio(vm, ACPI_PCIHP_PORT + PCIHP_EJ, 2, 1, 0xffff);
	CHECK(ejected == 0);
	CHECK(pio(vm, ACPI_PCIHP_PORT + PCIHP_DOWN, 2, 0, 0) == 0xffff);
	acpi_pcihp_gone(pm, 8);
	CHECK(pio(vm, ACPI_PCIHP_PORT + PCIHP_DOWN, 4, 0, 0) == 0);
	pio(vm, ACPI_GPE0_PORT, 1, 1, 0xff);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 0);
}

int main(void)
{
	struct vm_config cfg = { .name = "gpe-test", .mem_bytes = 16 << 20,
				 .vcpus = 1 };
	struct kvm_host kvm = { .fd = -1 };
	struct acpi_pm *pm = NULL;
	struct vm *vm = NULL;

	log_init("test-acpi-hotplug", LOG_ERR);
	test_regs();
	if (kvm_open(&kvm, NULL) < 0 || vm_create(&vm, &kvm, &cfg) < 0) {
		check_report("acpi-hotplug");
		printf("skip: no usable /dev/kvm for the port half (register checks %s)\n",
		       check_failures ? "FAILED" : "passed");
		return check_failures ? 1 : 77;
	}
	CHECK(acpi_pm_create(vm, &pm) == 0);
	if (pm)
		test_ports(vm, pm);
	vm_destroy(vm);
	acpi_pm_destroy(pm);
	kvm_close(&kvm);
	return check_report("acpi-hotplug");
}
