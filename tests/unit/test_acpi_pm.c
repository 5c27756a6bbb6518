/* test_acpi_pm.c - hw/acpi_pm.c on a real KVM VM (no vCPU running): port
 * dispatch, the SCI as KVM's IOAPIC sees it, S5 power-off and the 0xCF9
 * reset turning into VM stops. Skips (77) without a usable /dev/kvm. */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "hw/acpi_pm_regs.h"
#include "tests/unit/check.h"
#include "xvm/acpi.h"
#include "xvm/kvm.h"
#include "xvm/log.h"
#include "xvm/util.h"
#include "xvm/vm.h"

static uint64_t pio_read(struct vm *vm, uint64_t port, unsigned len)
{
	uint8_t d[8];

	CHECK(iobus_dispatch(&vm->pio, port, d, len, false) == 0);
	return io_get(d, len);
}

static void pio_write(struct vm *vm, uint64_t port, unsigned len, uint64_t v)
{
	uint8_t d[8];

	io_put(d, len, v);
	CHECK(iobus_dispatch(&vm->pio, port, d, len, true) == 0);
}

/* Level of IOAPIC pin gsi as KVM's in-kernel IOAPIC holds it (its IRR;
 * the pin is masked after reset, so nothing delivers and clears it). */
static int ioapic_pin(struct vm *vm, unsigned gsi)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };

	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return -errno;
	return (chip.chip.ioapic.irr >> gsi) & 1;
}

static int new_vm(struct kvm_host *kvm, struct vm **vm)
{
	struct vm_config cfg = { .name = "acpi-test", .mem_bytes = 16 << 20,
				 .vcpus = 1 };

	return vm_create(vm, kvm, &cfg);
}

static void test_registers(struct vm *vm, struct acpi_pm *pm)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint64_t a0, a1, b0, b1;
	uint32_t t1, t2, dt;

	CHECK(pio_read(vm, ACPI_PM1A_CNT_PORT, 2) & PM1_CNT_SCI_EN);
	/* the PM timer runs at 3.579545 MHz: the ticks between two reads lie
	 * within the host time between the reads' ends and their starts */
	a0 = now_ns();
	t1 = (uint32_t)pio_read(vm, ACPI_PM_TMR_PORT, 4);
	a1 = now_ns();
	nanosleep(&ts, NULL);
	b0 = now_ns();
	t2 = (uint32_t)pio_read(vm, ACPI_PM_TMR_PORT, 4);
	b1 = now_ns();
	dt = (t2 - t1) & PM_TIMER_MASK;
	CHECK(t1 <= PM_TIMER_MASK && t2 <= PM_TIMER_MASK);
	CHECK(dt + 1 >= (b0 - a1) * PM_TIMER_HZ / 1000000000U);
	CHECK(dt <= (b1 - a0) * PM_TIMER_HZ / 1000000000U + 1);
	CHECK(dt >= 71000);                          /* 20 ms: 71591 ticks */

	/* power button with PWRBTN_EN clear: status only, no SCI */
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 0);
	acpi_pm_power_button(pm);
	CHECK(pio_read(vm, ACPI_PM1A_EVT_PORT, 2) & PM1_PWRBTN_STS);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 0);
	/* enabling it (16-bit write to PM1_EN) raises the SCI line */
	pio_write(vm, ACPI_PM1A_EVT_PORT + 2, 2, PM1_PWRBTN_EN);
	CHECK(pio_read(vm, ACPI_PM1A_EVT_PORT + 2, 2) == PM1_PWRBTN_EN);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 1);
	/* the OS acknowledges: write 1 to PWRBTN_STS, the line drops */
	pio_write(vm, ACPI_PM1A_EVT_PORT, 2, PM1_PWRBTN_STS);
	CHECK(!(pio_read(vm, ACPI_PM1A_EVT_PORT, 2) & PM1_PWRBTN_STS));
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 0);
	/* a 32-bit read of the event block returns STS and EN together */
	CHECK((pio_read(vm, ACPI_PM1A_EVT_PORT, 4) >> 16) == PM1_PWRBTN_EN);
	/* SLP_TYP = S5 without SLP_EN does not stop the VM */
	pio_write(vm, ACPI_PM1A_CNT_PORT, 2, ACPI_S5_SLP_TYP << 10);
	CHECK(vm->stop == VM_RUNNING);
	/* 0x02 at 0xCF9 only selects a hard reset */
	pio_write(vm, 0xcf9, 1, 0x02);
	CHECK(pio_read(vm, 0xcf9, 1) == 0x02 && vm->stop == VM_RUNNING);
}

struct race {
	struct vm *vm;
	struct acpi_pm *pm;
	int n;
};

static void *press(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < r->n; i++)
		acpi_pm_power_button(r->pm);
	return NULL;
}

static void *ack(void *arg)
{
	struct race *r = arg;
	uint8_t d[2];

	for (int i = 0; i < r->n; i++) {
		io_put(d, 2, PM1_PWRBTN_STS);
		iobus_dispatch(&r->vm->pio, ACPI_PM1A_EVT_PORT, d, 2, true);
	}
	return NULL;
}

/* Presses and acknowledgements from two threads: at the end the IOAPIC pin
 * must match the status bit (the line is set under the device lock). */
static void test_race(struct vm *vm, struct acpi_pm *pm)
{
	struct race r = { vm, pm, 20000 };
	pthread_t a, b;
	uint64_t sts;

	CHECK(pthread_create(&a, NULL, press, &r) == 0);
	CHECK(pthread_create(&b, NULL, ack, &r) == 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	sts = pio_read(vm, ACPI_PM1A_EVT_PORT, 2);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == !!(sts & PM1_PWRBTN_STS));
	pio_write(vm, ACPI_PM1A_EVT_PORT, 2, PM1_PWRBTN_STS);
	CHECK(ioapic_pin(vm, ACPI_SCI_IRQ) == 0);
}

static void dummy_io(void *opaque, uint64_t off, uint8_t *data, unsigned len,
		     bool is_write)
{
}

int main(void)
{
	struct kvm_host kvm = { .fd = -1 };
	struct acpi_pm *pm = NULL, *pm2 = NULL;
	struct vm *vm = NULL;
	unsigned nranges;

	log_init("test-acpi-pm", LOG_ERR);
	if (kvm_open(&kvm, NULL) < 0 || new_vm(&kvm, &vm) < 0) {
		printf("skip: no usable /dev/kvm to create a VM on\n");
		return 77;
	}
	CHECK(acpi_pm_create(vm, &pm) == 0);
	/* a second device collides and leaves no range behind */
	nranges = vm->pio.n;
	CHECK(acpi_pm_create(vm, &pm2) == -EEXIST && vm->pio.n == nranges);
	if (pm) {
		test_registers(vm, pm);
		test_race(vm, pm);
		/* S5: SLP_TYP=5 | SLP_EN stops the VM as powered off */
		pio_write(vm, ACPI_PM1A_CNT_PORT, 2,
			  (ACPI_S5_SLP_TYP << 10) | PM1_CNT_SLP_EN);
		CHECK(vm_wait(vm) == VM_STOP_POWEROFF);
		CHECK(strcmp(vm->stop_reason, "guest powered off") == 0);
	}
	vm_destroy(vm);
	acpi_pm_destroy(pm);

	/* 0xCF9 taken (it is registered last): -EEXIST and the PM1 ports
	 * registered before the failure are gone again */
	vm = NULL;
	CHECK(new_vm(&kvm, &vm) == 0);
	if (vm) {
		uint8_t d[2];

		CHECK(iobus_register(&vm->pio, 0xcf9, 1, dummy_io, NULL,
				     "dummy") == 0);
		CHECK(acpi_pm_create(vm, &pm2) == -EEXIST);
		CHECK(vm->pio.n == 1);
		CHECK(iobus_dispatch(&vm->pio, ACPI_PM1A_CNT_PORT, d, 2,
				     false) == -ENOENT);
	}
	vm_destroy(vm);

	/* reset through 0xCF9 on a fresh VM */
	vm = NULL;
	pm = NULL;
	CHECK(new_vm(&kvm, &vm) == 0);
	if (vm && acpi_pm_create(vm, &pm) == 0) {
		pio_write(vm, 0xcf9, 1, 0x06);
		CHECK(vm_wait(vm) == VM_STOP_REBOOT);
		CHECK(strcmp(vm->stop_reason, "guest requested a reset") == 0);
	}
	vm_destroy(vm);
	acpi_pm_destroy(pm);
	kvm_close(&kvm);
	return check_report("acpi-pm");
}
