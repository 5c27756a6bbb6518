/* test_pvpanic.c - hw/pvpanic.c on a real KVM VM (no vCPU runs): PCI identity
 * and BAR, the event register, PANICKED -> VM_STOP_CRASH, CRASH_LOADED and
 * unknown bits leave the VM running; plus --rng option parsing. Skips (77)
 * without a usable /dev/kvm for the device part. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/check.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/pci.h"
#include "xvm/pvpanic.h"
#include "xvm/virtio_rng.h"
#include "xvm/vm.h"

static uint8_t reg_read(struct vm *vm, uint64_t a)
{
	uint8_t d = 0xee;

	CHECK(iobus_dispatch(&vm->mmio, a, &d, 1, false) == 0);
	return d;
}

static void reg_write(struct vm *vm, uint64_t a, uint8_t v)
{
	CHECK(iobus_dispatch(&vm->mmio, a, &v, 1, true) == 0);
}

static void test_parse(void)
{
	struct vrng_opts o = { .enabled = true };

	CHECK(vrng_parse("off", &o) == 0 && !o.enabled);
	CHECK(vrng_parse("on", &o) == 0 && o.enabled && o.rate == 0);
	CHECK(vrng_parse("rate=64K", &o) == 0 && o.enabled && o.rate == 65536);
	CHECK(vrng_parse("rate=1000/s", &o) == 0 && o.rate == 1000);
	CHECK(vrng_parse("rate=1G/s", &o) == 0 && o.rate == VRNG_MAX_RATE);
	CHECK(vrng_parse("rate=2G", &o) == -EINVAL);
	CHECK(vrng_parse("rate=0", &o) == -EINVAL);
	CHECK(vrng_parse("rate=", &o) == -EINVAL);
	CHECK(vrng_parse("rate=/s", &o) == -EINVAL);
	CHECK(vrng_parse("rate=fast", &o) == -EINVAL);
	CHECK(vrng_parse("yes", &o) == -EINVAL);
}

static void test_config(struct pci_bus *bus, unsigned s)
{
	uint32_t bar = pci_cfg_read(bus, s, 0, PCI_BAR0, 4);

	CHECK(pci_cfg_read(bus, s, 0, PCI_VENDOR_ID, 2) == PVPANIC_VENDOR);
	CHECK(pci_cfg_read(bus, s, 0, PCI_DEVICE_ID, 2) == PVPANIC_DEVICE);
	CHECK(pci_cfg_read(bus, s, 0, PCI_REVISION, 4) == 0x08800001); /* class 0880, rev 1 */
	CHECK(pci_cfg_read(bus, s, 0, PCI_INT_PIN, 1) == 0);           /* no interrupt */
	CHECK(bar >= PCI_MMIO_BASE && bar < PCI_MMIO_END && !(bar & 0xf)); /* 32-bit memory */
	/* sizing: all ones reads back the size mask */
	pci_cfg_write(bus, s, 0, PCI_BAR0, 4, 0xffffffff);
	CHECK(pci_cfg_read(bus, s, 0, PCI_BAR0, 4) == 0xfffff000);
	pci_cfg_write(bus, s, 0, PCI_BAR0, 4, bar);
	CHECK(pci_cfg_read(bus, s, 0, PCI_BAR0, 4) == bar);
}

static void test_events(struct vm *vm, uint64_t a)
{
	CHECK(reg_read(vm, a) == PVPANIC_EVENTS);
	CHECK(reg_read(vm, a + 1) == 0);
	CHECK(reg_read(vm, a + 15) == 0);
	reg_write(vm, a, 0);                       /* nothing */
	reg_write(vm, a, 0xfc);                    /* unknown bits only */
	reg_write(vm, a + 1, PVPANIC_PANICKED);    /* not the register */
	CHECK(vm->stop == VM_RUNNING);
	reg_write(vm, a, PVPANIC_CRASH_LOADED);    /* kdump runs: keep going */
	CHECK(vm->stop == VM_RUNNING);
	reg_write(vm, a, 0x80 | PVPANIC_PANICKED);
	CHECK(vm_wait(vm) == VM_STOP_CRASH);
	CHECK(strcmp(vm->stop_reason, "pvpanic: guest kernel panicked") == 0);
	CHECK(reg_read(vm, a) == PVPANIC_EVENTS);  /* still readable */
}

int main(void)
{
	struct vm_config cfg = { .name = "pvpanic-test", .mem_bytes = 16 << 20, .vcpus = 1 };
	struct kvm_host kvm = { .fd = -1 };
	struct pci_bus *bus = NULL;
	struct pvpanic *p = NULL;
	struct vm *vm = NULL;

	log_init("test-pvpanic", LOG_ERR);
	test_parse();
	if (kvm_open(&kvm, NULL) < 0 || vm_create(&vm, &kvm, &cfg) < 0) {
		check_report("pvpanic (parse only)");
		printf("skip: no usable /dev/kvm to create a VM on\n");
		return check_failures ? 1 : 77;
	}
	CHECK(pci_bus_create(vm, &bus) == 0);
	CHECK(bus && pvpanic_create(vm, bus, &p) == 0);
	if (p) {
		unsigned s = pvpanic_slot(p);
		CHECK(s == 1);
		test_config(bus, s);
		test_events(vm, pci_cfg_read(bus, s, 0, PCI_BAR0, 4));
	}
	vm_destroy(vm);
	pvpanic_destroy(p);
	pci_bus_destroy(bus);
	kvm_close(&kvm);
	return check_report("pvpanic");
}
